"""BVH export of one tracked person: the SMPL-X skeleton with fingers, for Blender and others.

    track = load_track("out/estimates.npz", 3)
    export_bvh(track, BodyModel.load(), "out/track3.bvh")
    export_bvh_from_npz("out/estimates.npz", 3, "out/track3.bvh", model)   # the same

Skeleton: the 55 SMPL-X joints (25 with ``include_fingers=False``: body, jaw, eyes) under
their ``SMPLX_JOINT_NAMES`` names and ``SMPLX_PARENTS`` tree, written depth first with
children in index order. Offsets are ``J_j - J_parent(j)`` of the rest pose of the track's
mean betas (neutral expression), from :meth:`BodyModel.rest_joints`. Every leaf gets an End
Site at a model point: fingertips (mesh fingertip points), big toes (after ``*_foot``), the
lower lip (after ``jaw``), the front of the eyeballs (after the eyes) and, without fingers,
the middle fingertips (after the wrists). The head has children (jaw, eyes) and BVH allows End
Sites on leaves only, so it has none; Blender points the head bone at its children's mean.

Axes: camera optical frame C (x right, y down, z forward) -> BVH frame W = R_x(pi) C, i.e.
``x_W = x_C``, ``y_W = -y_C`` (up), ``z_W = -z_C`` (towards the camera); :data:`CAMERA_TO_BVH`.
The rest pose is the SMPL-X T-pose in its own frame (y up, facing +z). W is the camera frame
turned upright, not a gravity-aligned world: camera pitch and roll stay in the motion. Blender's
importer defaults (Forward -Z, Up Y) read it correctly.

Channels: root ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``, other joints
``Zrotation Xrotation Yrotation``, degrees: a rotation is ``Rz(a) @ Rx(b) @ Ry(c)`` (intrinsic
Z-X-Y, scipy ``Rotation.from_euler("ZXY", [a, b, c], degrees=True)``; column vectors). Joint
rotations are the SMPL-X parent-relative rotations; the root rotation is
``CAMERA_TO_BVH @ global_orient``; the root position is ``CAMERA_TO_BVH @ joints[0]`` of the
body model for the frame's own parameters (SMPL-X rotates about the pelvis, so this is the rest
pelvis of the frame's betas plus ``transl``, not a rotated one). ROOT OFFSET is
zero, so readers that add it and readers that treat root positions as absolute agree.
Forward kinematics ``G_root = [R_root | p]``, ``G_j = G_parent(j) [R_j | offset_j]`` reproduce
the model's joints (in W, in ``units``) when the track's betas are constant; with varying betas
the limbs use the mean-shape skeleton and only the root follows each frame's shape. The
skeleton has the neutral expression (expression blend shapes may shift face joints slightly).

Time: one BVH frame per video frame from ``track.frame[0]`` to ``track.frame[-1]``; frames in
which the track was not seen (gaps) hold the last seen pose and position. Frame Time is
``1 / fps``, or the median of ``stamp step / frame step`` over the track. Euler angles are
unwrapped along time (a channel may leave [-180, 180]) so that players do not spin through 360
degrees between frames.
"""

from __future__ import annotations

import dataclasses
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from robosmplx_core.body_model.joints import SMPLX_127_NAMES, SMPLX_JOINT_NAMES, SMPLX_PARENTS
from robosmplx_core.body_model.model import BodyModel
from robosmplx_core.checks import check_shape
from robosmplx_core.export.estimates_npz import TrackSequence, load_track
from robosmplx_core.types import SMPLXParams

__all__ = ["CAMERA_TO_BVH", "ROTATION_ORDER", "UNIT_SCALE", "BvhSkeleton", "build_skeleton",
           "bvh_motion", "export_bvh", "export_bvh_from_npz", "frame_time_s"]

ROTATION_ORDER = "ZXY"
"""Euler order of every joint's rotation channels (intrinsic, as scipy's upper-case orders)."""
CAMERA_TO_BVH = np.diag([1.0, -1.0, -1.0])
"""R_x(pi): camera optical frame (y down, z forward) -> BVH frame (y up, z towards the camera)."""
UNIT_SCALE = {"m": 1.0, "cm": 100.0, "mm": 1000.0}
"""Length unit name -> factor from metres."""

_NUM_JOINTS_WITHOUT_FINGERS = 25  # pelvis .. right_eye_smplhf; fingers are joints 25..54
_END_SITE_POINTS = {
    "left_foot": "left_big_toe", "right_foot": "right_big_toe", "jaw": "mouth_bottom",
    "left_eye_smplhf": "left_eye", "right_eye_smplhf": "right_eye",
    "left_wrist": "left_middle", "right_wrist": "right_middle",  # leaves only without fingers
}  # fmt: skip
_ROT_CHANNELS = " ".join(f"{axis}rotation" for axis in ROTATION_ORDER)


@dataclass(frozen=True)
class BvhSkeleton:
    """The BVH joint tree in file order (K joints, depth first).

    Fields:
        joints: (K,) int64 SMPL-X joint index (0..54) of each BVH joint; ``joints[0] == 0``.
        parents: (K,) int64 parent's position in ``joints`` (-1 for the root).
        offsets_m: (K, 3) float64 rest offset from the parent, metres, BVH axes (zero for the root).
        end_sites_m: (K, 3) float64 End Site offset from the joint, metres; NaN rows: no End Site.
    """

    joints: np.ndarray
    parents: np.ndarray
    offsets_m: np.ndarray
    end_sites_m: np.ndarray

    @property
    def names(self) -> list[str]:
        """The K joint names."""
        return [SMPLX_JOINT_NAMES[j] for j in self.joints]


def _depth_first(keep: list[int]) -> list[int]:
    children = {j: [c for c in keep if SMPLX_PARENTS[c] == j] for j in keep}
    order, stack = [], [0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(children[j]))
    return order


def _end_site_point(name: str) -> str:
    if name[-1] == "3" and name[:-1] in SMPLX_127_NAMES:  # e.g. left_index3 -> fingertip left_index
        return name[:-1]
    return _END_SITE_POINTS[name]


def build_skeleton(model: BodyModel, betas: torch.Tensor, *, include_fingers: bool = True) -> BvhSkeleton:
    """Rest skeleton of the body shape ``betas`` (1, NB) in BVH file order (see module docstring)."""
    check_shape(betas, f"1 {model.num_betas}", name="betas")
    keep = list(range(len(SMPLX_JOINT_NAMES) if include_fingers else _NUM_JOINTS_WITHOUT_FINGERS))
    order = _depth_first(keep)
    with torch.no_grad():
        rest = model.rest_joints(betas)[0].double().cpu().numpy()  # (55, 3)
        zero = SMPLXParams.zeros(1, num_betas=model.num_betas, num_expression=model.num_expression)
        points = model(dataclasses.replace(zero, betas=betas.to(zero.betas))).joints[0]
        points = points.double().cpu().numpy()  # (127 or 144, 3), rest pose
    position = {j: i for i, j in enumerate(order)}
    parents = np.array([position[SMPLX_PARENTS[j]] if j else -1 for j in order], np.int64)
    offsets = np.array([rest[j] - rest[SMPLX_PARENTS[j]] if j else np.zeros(3) for j in order])
    end_sites = np.full((len(order), 3), np.nan)
    has_child = set(parents[1:].tolist())
    for i, j in enumerate(order):
        if i not in has_child:
            end_sites[i] = points[SMPLX_127_NAMES.index(_end_site_point(SMPLX_JOINT_NAMES[j]))] - rest[j]
    return BvhSkeleton(joints=np.array(order, np.int64), parents=parents, offsets_m=offsets, end_sites_m=end_sites)


def frame_time_s(track: TrackSequence, fps: float | None = None) -> float:
    """Seconds per BVH frame: ``1 / fps``, else the median ``stamp step / frame step``."""
    if fps is not None:
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps: expected a positive frame rate, got {fps}")
        return 1.0 / float(fps)
    if len(track) < 2:
        raise ValueError(f"track {track.track_id} has {len(track)} frame(s): the frame time cannot be "
                         "taken from the stamps; pass fps=")
    step_s = np.diff(track.stamp) / np.diff(track.frame)
    if not np.all(step_s > 0):
        raise ValueError(f"track {track.track_id}: stamps do not increase with the frame index "
                         f"(smallest step {step_s.min():.6g} s); pass fps= to set the frame time")
    return float(np.median(step_s))


def _full_pose(track: TrackSequence) -> np.ndarray:
    """(n, 55, 3) float64 axis-angle in SMPL-X joint order."""
    parts = [track.global_orient[:, None], track.body_pose, track.jaw_pose[:, None], track.leye_pose[:, None],
             track.reye_pose[:, None], track.left_hand_pose, track.right_hand_pose]
    return np.concatenate(parts, axis=1).astype(np.float64)


def _pelvis_camera_m(track: TrackSequence, model: BodyModel) -> np.ndarray:
    """(n, 3) float64 the model's ``joints[0]`` for each frame's parameters, camera frame, metres.

    SMPL-X rotates the body about the pelvis, so ``joints[0] = rest_pelvis(betas) + transl``
    whatever the pose; the rest pelvis is affine in betas (linear shape blend shapes, linear
    joint regressor), so it is taken exactly from NB + 1 rest-pose runs of the model instead of
    one posed run per frame (~4 ms each on a CPU). Expression blend shapes move the face only.
    """
    num_betas = track.betas.shape[1]
    basis = torch.cat([torch.zeros(1, num_betas), torch.eye(num_betas)])  # beta = 0, then unit vectors
    with torch.no_grad():
        rest_pelvis = model.rest_joints(basis)[:, 0].double().cpu().numpy()  # (1 + NB, 3)
    per_beta = rest_pelvis[1:] - rest_pelvis[0]
    return rest_pelvis[0] + track.betas.astype(np.float64) @ per_beta + track.transl.astype(np.float64)


def _euler_deg(rotmats: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) Euler angles in ROTATION_ORDER, degrees."""
    with warnings.catch_warnings():  # at gimbal lock scipy still returns a valid decomposition
        warnings.filterwarnings("ignore", message=".*[Gg]imbal lock.*")
        angles = Rotation.from_matrix(rotmats.reshape(-1, 3, 3)).as_euler(ROTATION_ORDER, degrees=True)
    return angles.reshape(*rotmats.shape[:-2], 3)


def bvh_motion(track: TrackSequence, model: BodyModel, skeleton: BvhSkeleton, *, units: str = "cm") -> np.ndarray:
    """The MOTION values: (F, 6 + 3 (K - 1)) float64, F = ``frame[-1] - frame[0] + 1``.

    Per frame: root position (3, ``units``), root Euler angles, then each other joint's Euler
    angles in ``skeleton`` order (degrees, :data:`ROTATION_ORDER`); gaps hold the last frame.
    """
    scale = _unit_scale(units)
    rotmats = Rotation.from_rotvec(_full_pose(track)[:, skeleton.joints].reshape(-1, 3)).as_matrix()
    rotmats = rotmats.reshape(len(track), len(skeleton.joints), 3, 3)
    rotmats[:, 0] = CAMERA_TO_BVH @ rotmats[:, 0]
    root_position = _pelvis_camera_m(track, model) @ CAMERA_TO_BVH.T * scale
    per_seen_frame = np.concatenate([root_position, _euler_deg(rotmats).reshape(len(track), -1)], axis=1)
    dense = np.arange(track.frame[0], track.frame[-1] + 1)
    motion = per_seen_frame[np.searchsorted(track.frame, dense, side="right") - 1]
    motion[:, 3:] = np.unwrap(motion[:, 3:], period=360.0, axis=0)
    return motion


def _unit_scale(units: str) -> float:
    if units not in UNIT_SCALE:
        raise ValueError(f"units: expected one of {', '.join(UNIT_SCALE)}, got {units!r}")
    return UNIT_SCALE[units]


def _vec(v: np.ndarray) -> str:
    return " ".join(f"{x:.6f}" for x in v)


def _hierarchy_lines(skeleton: BvhSkeleton, scale: float) -> list[str]:
    children: list[list[int]] = [[] for _ in skeleton.joints]
    for i, p in enumerate(skeleton.parents):
        if p >= 0:
            children[p].append(i)

    def block(i: int, depth: int) -> list[str]:
        tab = "\t" * depth
        if i == 0:
            kind, channels = "ROOT", f"6 Xposition Yposition Zposition {_ROT_CHANNELS}"
        else:
            kind, channels = "JOINT", f"3 {_ROT_CHANNELS}"
        lines = [f"{tab}{kind} {skeleton.names[i]}", f"{tab}{{",
                 f"{tab}\tOFFSET {_vec(skeleton.offsets_m[i] * scale)}", f"{tab}\tCHANNELS {channels}"]
        for c in children[i]:
            lines += block(c, depth + 1)
        if not np.isnan(skeleton.end_sites_m[i]).any():
            lines += [f"{tab}\tEnd Site", f"{tab}\t{{", f"{tab}\t\tOFFSET {_vec(skeleton.end_sites_m[i] * scale)}",
                      f"{tab}\t}}"]
        return lines + [f"{tab}}}"]

    return ["HIERARCHY", *block(0, 0)]


def _check_sizes(track: TrackSequence, model: BodyModel) -> None:
    if len(track) == 0:
        raise ValueError(f"track {track.track_id} has no frames; nothing to export")
    for name, have, want in (("betas", track.betas.shape[1], model.num_betas),
                             ("expression", track.expression.shape[1], model.num_expression)):
        if have != want:
            raise ValueError(f"track {track.track_id} has {have} {name} coefficients but the body model takes "
                             f"{want}; load the body model with num_{name}={have}")


def export_bvh(
    track: TrackSequence,
    model: BodyModel,
    out_path: str | Path,
    *,
    fps: float | None = None,
    include_fingers: bool = True,
    units: str = "cm",
) -> Path:
    """Write one track as a BVH file (see the module docstring for skeleton, axes and time).

    Args:
        track: the person's frames (e.g. from :func:`load_track`).
        model: the SMPL-X model the estimates were made with (its num_betas / num_expression
            must match the track's).
        out_path: the ``.bvh`` file to write (parent folders are created).
        fps: frame rate; None takes it from the stamps.
        include_fingers: 55 joints with the 30 finger joints, else 25.
        units: ``"cm"`` (BVH custom), ``"m"`` or ``"mm"`` for offsets and root positions.

    Returns:
        ``out_path`` as a Path.

    Raises:
        ValueError: an empty track, sizes that do not fit the model, bad ``fps`` / ``units``,
            or no ``fps`` with stamps that cannot give a frame time.
    """
    _check_sizes(track, model)
    scale = _unit_scale(units)
    dt_s = frame_time_s(track, fps)
    mean_betas = torch.from_numpy(track.betas.mean(axis=0, keepdims=True))
    skeleton = build_skeleton(model, mean_betas, include_fingers=include_fingers)
    motion = bvh_motion(track, model, skeleton, units=units)
    text = io.StringIO()
    text.write("\n".join([*_hierarchy_lines(skeleton, scale), "MOTION", f"Frames: {motion.shape[0]}",
                          f"Frame Time: {dt_s:.8f}"]) + "\n")
    np.savetxt(text, motion, fmt="%.6f", delimiter=" ")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text.getvalue())
    return out_path


def export_bvh_from_npz(
    npz_path: str | Path,
    track_id: int,
    out_path: str | Path,
    model: BodyModel,
    *,
    fps: float | None = None,
    include_fingers: bool = True,
    units: str = "cm",
) -> Path:
    """:func:`export_bvh` of track ``track_id`` of an ``estimates.npz`` file.

    Raises:
        FileNotFoundError: no file at ``npz_path``.
        ValueError: ``track_id`` not in the file (the message lists the ids it holds), or as
            :func:`export_bvh`.
    """
    track = load_track(npz_path, track_id)
    return export_bvh(track, model, out_path, fps=fps, include_fingers=include_fingers, units=units)
