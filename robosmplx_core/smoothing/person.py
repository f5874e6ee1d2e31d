"""Per-track temporal smoothing of :class:`PersonEstimate` records.

What is filtered, per track (each quantity with its own :class:`OneEuroConfig`):
    - all 55 rotations of :class:`SMPLXParams` (global_orient, body_pose, both hands, jaw,
      eyes), on SO(3), in one vectorised call (``rotation`` parameters, beta in s/rad);
    - ``transl`` (``translation`` parameters, one cutoff from the speed norm in m/s);
    - ``betas`` and ``expression`` (per coefficient);
    - ``joints3d``: filtered like a translation (in one call with ``transl``, betas and
      expression, each block with its own parameters), one
      cutoff per joint from its speed in m/s.
      They are NOT recomputed from the smoothed parameters (this stage has no body model),
      so they agree with forward kinematics of the smoothed parameters only approximately;
      a stage that needs exact agreement should recompute them downstream;
    - ``joints2d``: smoothed with the same per-joint, per-frame weight as ``joints3d`` (pixel
      speeds would need a different ``beta``), so they stay close to the projection of the
      smoothed ``joints3d``.
Kept raw: ``track_id``, ``box_xyxy``, ``score`` and ``confidence``.

Time comes from the frame stamp; repeated or backwards stamps return the previous output
(see :mod:`.one_euro`). State is per instance; :class:`SmoothingStage` keeps one
:class:`PersonSmoother` per track id and forgets it on :meth:`SmoothingStage.drop`.
"""

from __future__ import annotations

from typing import Iterable, Optional

import numpy as np
import torch

from robosmplx_core.config import OneEuroConfig, SmoothingConfig
from robosmplx_core.smoothing.one_euro import OneEuroFilter, check_stamp
from robosmplx_core.smoothing.so3 import SO3OneEuroFilter
from robosmplx_core.types import ROTATION_FIELDS, PersonEstimate, SMPLXParams, replace_unchecked

__all__ = ["PersonSmoother", "SmoothingStage"]


_NUMPY_DTYPES = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    """A tensor as float64 numpy (one device transfer)."""
    if t.device.type == "cpu" and t.dtype in _NUMPY_DTYPES:
        return t.detach().numpy().astype(np.float64)
    return t.detach().to(device="cpu", dtype=torch.float64).numpy()


def _to_tensor(arr: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """``arr`` as a tensor with ``like``'s dtype and device (owns its memory)."""
    np_dtype = _NUMPY_DTYPES.get(like.dtype)
    if np_dtype is None:  # e.g. bfloat16: convert in torch
        return torch.from_numpy(np.ascontiguousarray(arr)).to(device=like.device, dtype=like.dtype)
    out = torch.from_numpy(np.ascontiguousarray(arr, dtype=np_dtype))
    return out if like.device.type == "cpu" else out.to(like.device)


def _stack_rotations(params: SMPLXParams) -> np.ndarray:
    """All rotation fields of a B = 1 ``params`` as float64 ``(55, 3, 3)``, in ROTATION_FIELDS order."""
    ref = params.global_orient
    if ref.device.type == "cpu" and ref.dtype in _NUMPY_DTYPES:  # no torch ops: ~3x cheaper
        parts = [getattr(params, name).detach().numpy().reshape(-1, 3, 3) for name in ROTATION_FIELDS]
        return np.concatenate(parts).astype(np.float64)
    return _to_numpy(torch.cat([getattr(params, name).reshape(-1, 3, 3) for name in ROTATION_FIELDS]))


def _unstack_rotations(rotmats: np.ndarray, like: SMPLXParams) -> dict[str, torch.Tensor]:
    """Inverse of :func:`_stack_rotations`: field name -> tensor shaped, typed and placed as in ``like``.

    One conversion for all 55 rotations; the fields share its memory.
    """
    ref = like.global_orient
    np_dtype = _NUMPY_DTYPES.get(ref.dtype) if ref.device.type == "cpu" else None
    if np_dtype is not None:
        converted = rotmats.astype(np_dtype)
        split = lambda start, count, shape: torch.from_numpy(converted[start:start + count].reshape(shape))  # noqa: E731
    else:
        all_rot = _to_tensor(rotmats, ref)
        split = lambda start, count, shape: all_rot[start:start + count].view(shape)  # noqa: E731
    out: dict[str, torch.Tensor] = {}
    start = 0
    for name in ROTATION_FIELDS:
        shape = getattr(like, name).shape
        count = shape.numel() // 9
        out[name] = split(start, count, shape)
        start += count
    return out


def _row_params(cfgs: list[tuple[OneEuroConfig, int]]) -> dict[str, np.ndarray]:
    """Per-row One Euro parameters ``(R, 1)`` for consecutive blocks of ``count`` rows."""
    return {key: np.concatenate([np.full((count, 1), getattr(cfg, key)) for cfg, count in cfgs])
            for key in ("min_cutoff_hz", "beta", "d_cutoff_hz")}


class PersonSmoother:
    """Smooths one track's :class:`PersonEstimate` sequence (see the module docstring).

    Args:
        rotation: parameters for every SMPL-X rotation (filtered on SO(3)).
        translation: parameters for ``transl`` and ``joints3d`` (speed in m/s).
        betas: parameters for the shape coefficients.
        expression: parameters for the expression coefficients.
    """

    def __init__(self, *, rotation: OneEuroConfig, translation: OneEuroConfig,
                 betas: OneEuroConfig, expression: OneEuroConfig) -> None:
        self._rotations = SO3OneEuroFilter.from_config(rotation)
        self._configs = (translation, betas, expression)
        # transl, joints3d, betas and expression share one filter call: rows of 3 with their
        # own parameters; a coefficient c is the row (c, 0, 0), whose speed norm is |dc/dt|,
        # exactly the per-coefficient filter. Built on the first estimate (sizes known then).
        self._linear: Optional[OneEuroFilter] = None
        self._joints2d_hat: Optional[np.ndarray] = None

    @classmethod
    def from_config(cls, cfg: SmoothingConfig) -> "PersonSmoother":
        """Smoother with the per-quantity parameters of ``cfg`` (``cfg.enabled`` is not read here)."""
        return cls(rotation=cfg.rotation, translation=cfg.translation, betas=cfg.betas,
                   expression=cfg.expression)

    @property
    def num_skipped(self) -> int:
        """Estimates ignored because their stamp was not after the previous one."""
        return self._rotations.num_skipped

    def reset(self) -> None:
        """Forget the track's history; the next estimate passes through."""
        self._rotations.reset()
        self._linear = None
        self._joints2d_hat = None

    def _linear_filter(self, num_joints: int, num_betas: int, num_expression: int) -> OneEuroFilter:
        """The shared filter for rows [transl, joints3d, betas, expression]."""
        if self._linear is None:
            translation, betas, expression = self._configs
            params = _row_params([(translation, 1 + num_joints), (betas, num_betas),
                                  (expression, num_expression)])
            self._linear = OneEuroFilter(**params, vector_speed=True)
        return self._linear

    def __call__(self, person: PersonEstimate, stamp_s: float) -> PersonEstimate:
        """Smooth one estimate of this track taken at ``stamp_s`` seconds.

        Returns:
            A new :class:`PersonEstimate` with smoothed ``params`` (same shapes, dtype and
            device), ``joints3d`` and ``joints2d``; the other fields are the input's.
        Raises:
            ValueError: non-finite stamp, or sizes (NB, NE, J) that changed since the first
                estimate of the track (call :meth:`reset` first).
        """
        stamp = check_stamp(stamp_s, name="PersonSmoother stamp_s")
        p = person.params  # validated finite by SMPLXParams / PersonEstimate
        fields = _unstack_rotations(self._rotations.filter_array(_stack_rotations(p), stamp), p)
        nj, nb, ne = len(person.joints3d), p.betas.shape[-1], p.expression.shape[-1]
        rows = np.zeros((1 + nj + nb + ne, 3))
        rows[0] = _to_numpy(p.transl).reshape(3)
        rows[1:1 + nj] = person.joints3d
        rows[1 + nj:1 + nj + nb, 0] = _to_numpy(p.betas).reshape(nb)
        rows[1 + nj + nb:, 0] = _to_numpy(p.expression).reshape(ne)
        try:
            rows = self._linear_filter(nj, nb, ne).filter_array(rows, stamp)
        except ValueError as exc:
            raise ValueError(f"PersonSmoother: {exc}") from None
        fields["transl"] = _to_tensor(rows[:1], p.transl)
        fields["betas"] = _to_tensor(rows[1 + nj:1 + nj + nb, 0].reshape(p.betas.shape), p.betas)
        fields["expression"] = _to_tensor(rows[1 + nj + nb:, 0].reshape(p.expression.shape), p.expression)
        joints2d = self._smooth_joints2d(person.joints2d.astype(np.float64), nj)
        # Same shapes, dtypes and devices as the validated input, finite by construction.
        return replace_unchecked(
            person, params=replace_unchecked(p, **fields),
            joints3d=rows[1:1 + nj].astype(np.float32), joints2d=joints2d.astype(np.float32))

    def _smooth_joints2d(self, joints2d: np.ndarray, num_joints: int) -> np.ndarray:
        """``(J, 2)`` pixels, smoothed with the weights the joints3d rows just got."""
        alpha = self._linear.last_alpha if self._linear is not None else None  # (R, 1)
        if self._joints2d_hat is None or alpha is None:
            self._joints2d_hat = joints2d.copy()
        elif joints2d.shape != self._joints2d_hat.shape:
            raise ValueError(f"PersonEstimate.joints2d: expected shape {self._joints2d_hat.shape} as on "
                             f"the track's first estimate, got {joints2d.shape}; call reset() first")
        else:
            a = alpha[1:1 + num_joints]  # 1 on the first sample, 0 on a skipped stamp
            self._joints2d_hat = a * joints2d + (1.0 - a) * self._joints2d_hat
        return self._joints2d_hat


class SmoothingStage:
    """Pipeline stage: one :class:`PersonSmoother` per track id, created on first sight.

    Args:
        enabled: False passes estimates through unchanged (no state is kept).
        rotation, translation, betas, expression: see :class:`PersonSmoother`.

    Usage::

        stage = SmoothingStage.from_config(cfg.smoothing)
        persons = stage(persons, frame.stamp_s)   # every frame
        stage.drop(dead_track_ids)                # when the tracker removes tracks
    """

    def __init__(self, *, enabled: bool, rotation: OneEuroConfig, translation: OneEuroConfig,
                 betas: OneEuroConfig, expression: OneEuroConfig) -> None:
        self.enabled = bool(enabled)
        self._configs = dict(rotation=rotation, translation=translation, betas=betas, expression=expression)
        self._smoothers: dict[int, PersonSmoother] = {}

    @classmethod
    def from_config(cls, cfg: SmoothingConfig) -> "SmoothingStage":
        """Stage configured by the ``smoothing`` section."""
        return cls(enabled=cfg.enabled, rotation=cfg.rotation, translation=cfg.translation,
                   betas=cfg.betas, expression=cfg.expression)

    @property
    def track_ids(self) -> tuple[int, ...]:
        """Ids of the tracks that currently hold smoothing state, sorted."""
        return tuple(sorted(self._smoothers))

    def __call__(self, persons: list[PersonEstimate], stamp_s: float) -> list[PersonEstimate]:
        """Smooth every person of one frame taken at ``stamp_s`` seconds.

        Args:
            persons: N estimates with distinct ``track_id`` s.
            stamp_s: the frame's time in seconds (message stamp), finite.
        Returns:
            N smoothed estimates in the same order (the input list's items when disabled).
        Raises:
            ValueError: non-finite stamp or a track id that occurs twice.
        """
        stamp = check_stamp(stamp_s, name="SmoothingStage stamp_s")
        if not self.enabled:
            return list(persons)
        ids = [int(p.track_id) for p in persons]
        if len(set(ids)) != len(ids):
            raise ValueError(f"SmoothingStage: track ids must be unique within a frame, got {ids}; "
                             "pass the tracker's output, one estimate per track")
        out = []
        for track_id, person in zip(ids, persons):
            smoother = self._smoothers.get(track_id)
            if smoother is None:
                smoother = self._smoothers[track_id] = PersonSmoother(**self._configs)
            out.append(smoother(person, stamp))
        return out

    def drop(self, track_ids: Iterable[int]) -> None:
        """Forget the state of these tracks (unknown ids are ignored); a reused id starts fresh."""
        for track_id in track_ids:
            self._smoothers.pop(int(track_id), None)

    def reset(self) -> None:
        """Forget every track (e.g. when the camera or the source changes)."""
        self._smoothers.clear()
