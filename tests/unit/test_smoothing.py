"""Known values, reference parity, jitter/lag pins and SO(3) behaviour of robosmplx_core.smoothing."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from robosmplx_core.config import SmoothingConfig
from robosmplx_core.smoothing import OneEuroFilter, PersonSmoother, SmoothingStage, SO3OneEuroFilter, so3
from robosmplx_core.types import PartConfidence, PersonEstimate, SMPLXParams

FPS = 30.0
DEFAULTS = SmoothingConfig()


def _alpha(cutoff_hz: float, dt_s: float) -> float:
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff_hz * dt_s))


def _reference_one_euro(xs, stamps, min_cutoff, beta, d_cutoff):
    """Scalar One Euro as in Casiez & Roussel's reference Python (derivative from the last output)."""
    out, x_hat, dx_hat, last = [], None, 0.0, None
    for x, t in zip(xs, stamps):
        if x_hat is None:
            x_hat = x
        else:
            dt = t - last
            dx_hat = _alpha(d_cutoff, dt) * (x - x_hat) / dt + (1 - _alpha(d_cutoff, dt)) * dx_hat
            a = _alpha(min_cutoff + beta * abs(dx_hat), dt)
            x_hat = a * x + (1 - a) * x_hat
        last = t
        out.append(x_hat)
    return np.array(out)


def _jitter(x: np.ndarray) -> float:
    """Mean absolute second difference over time (axis 0)."""
    return float(np.mean(np.abs(np.diff(x, n=2, axis=0))))


def _lag_frames(reference: np.ndarray, filtered: np.ndarray, max_lag: int = 15) -> float:
    """Delay of ``filtered`` behind ``reference`` in frames: cross-correlation peak, parabolic sub-frame."""
    ref, y = reference - reference.mean(), filtered - filtered.mean()
    n = len(ref)
    corr = np.array([np.dot(ref[:n - k], y[k:]) for k in range(max_lag + 1)])
    k = int(np.argmax(corr))
    if 0 < k < max_lag:
        k += 0.5 * (corr[k - 1] - corr[k + 1]) / (corr[k - 1] - 2 * corr[k] + corr[k + 1])
    return float(k)


def _rz(angle: np.ndarray | float) -> np.ndarray:
    return Rotation.from_rotvec(np.multiply.outer(angle, [0.0, 0.0, 1.0])).as_matrix()


def _angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (Rotation.from_matrix(a).inv() * Rotation.from_matrix(b)).magnitude()


# ------------------------------------------------------------------------------ One Euro


def test_constant_signal_is_returned() -> None:
    f = OneEuroFilter.from_config(DEFAULTS.translation)
    c = np.array([0.3, -1.2, 4.0])
    outs = np.array([f(c, i / FPS) for i in range(50)])
    np.testing.assert_allclose(outs, np.broadcast_to(c, outs.shape), rtol=0, atol=1e-12)


def test_step_is_approached_monotonically() -> None:
    f = OneEuroFilter.from_config(DEFAULTS.translation)
    outs = np.array([f(np.array([0.0 if i == 0 else 1.0]), i / FPS)[0] for i in range(90)])
    assert np.all(np.diff(outs) > 0), "the output must rise at every frame after the step"
    assert np.all(outs <= 1.0) and outs[1] < 1.0
    assert outs[-1] > 0.99


def test_beta_zero_is_exponential_smoothing_known_value() -> None:
    fc, dt, x = 2.0, 0.04, 3.0
    f = OneEuroFilter(min_cutoff_hz=fc, beta=0.0, d_cutoff_hz=1.0)
    assert f(np.array([0.0]), 10.0)[0] == 0.0  # the first sample passes through
    alpha = 1.0 / (1.0 + 1.0 / (2.0 * math.pi * fc * dt))
    assert abs(f(np.array([x]), 10.0 + dt)[0] - alpha * x) < 1e-9
    assert abs(alpha - 0.334511171) < 1e-9  # 1 / (1 + 1 / (2 pi 2 0.04)) by hand


def test_matches_reference_scalar_filter_with_irregular_stamps() -> None:
    rng = np.random.default_rng(3)
    stamps = np.cumsum(rng.uniform(0.01, 0.08, 120))
    xs = np.sin(3 * stamps) + rng.normal(0, 0.05, 120)
    want = _reference_one_euro(xs, stamps, 1.2, 0.4, 0.8)
    f = OneEuroFilter(min_cutoff_hz=1.2, beta=0.4, d_cutoff_hz=0.8)
    got = np.array([f(np.array([x]), t)[0] for x, t in zip(xs, stamps)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_torch_input_keeps_type_dtype_and_first_sample() -> None:
    f = OneEuroFilter.from_config(DEFAULTS.expression)
    x0 = torch.tensor([[0.5, -0.25]], dtype=torch.float32)
    assert torch.equal(f(x0, 0.0), x0)
    out = f(torch.tensor([[1.5, 0.75]], dtype=torch.float32), 1 / FPS)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (1, 2)
    assert 0.5 < float(out[0, 0]) < 1.5


def test_repeated_and_backwards_stamps_return_previous_output_and_count() -> None:
    f = OneEuroFilter.from_config(DEFAULTS.translation)
    f(np.zeros(3), 1.0)
    y1 = f(np.ones(3), 1.0 + 1 / FPS)
    y_repeat = f(np.full(3, 100.0), 1.0 + 1 / FPS)
    y_back = f(np.full(3, -100.0), 0.5)
    np.testing.assert_array_equal(y_repeat, y1)
    np.testing.assert_array_equal(y_back, y1)
    assert f.num_skipped == 2
    y2 = f(np.ones(3), 1.0 + 2 / FPS)  # dt measured from the last accepted stamp
    assert np.all(np.isfinite(y2)) and np.all(y2 > y1) and np.all(y2 < 1.0)


def test_bad_input_raises_with_a_fix() -> None:
    f = OneEuroFilter.from_config(DEFAULTS.translation)
    f(np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="call reset"):
        f(np.zeros(4), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        f(np.array([0.0, np.nan, 0.0]), 2.0)
    with pytest.raises(ValueError, match="finite time"):
        f(np.zeros(3), float("nan"))
    with pytest.raises(ValueError, match="min_cutoff_hz > 0"):
        OneEuroFilter(min_cutoff_hz=0.0, beta=0.1, d_cutoff_hz=1.0)


# ------------------------------------------------------------------------------ jitter and lag
# 1 Hz sine sampled at 30 fps plus Gaussian noise (seed 0), default parameters. The One Euro
# filter trades jitter for lag by speed: slow motion is smoothed hard, fast motion followed
# closely. Measured with the defaults (rotation 1.0 Hz / beta 2.0, translation 1.0 Hz / 0.7):
# slow rotation 2.78x / 1.40 frames, slow translation 4.76x / 2.56 frames; fast rotation
# 1.16x / 0.58 frames, fast translation 1.38x / 1.45 frames. On the whole-body synthetic walk of
# benchmarks/smoothing_quality.py the same defaults give 3.6x at 0.91 frames.

def _sine_rotation_run(amplitude_rad: float, sigma_rad: float) -> tuple[float, float]:
    """(jitter reduction, lag in frames) of the SO(3) filter on a noisy sine about z."""
    rng = np.random.default_rng(0)
    t = np.arange(300) / FPS
    clean = amplitude_rad * np.sin(2 * math.pi * t)
    noisy = Rotation.from_rotvec(np.multiply.outer(clean, [0, 0, 1.0])) * Rotation.from_rotvec(
        rng.normal(0, sigma_rad, (300, 3)))
    raw = noisy.as_matrix()
    f = SO3OneEuroFilter.from_config(DEFAULTS.rotation)
    out = np.array([f(raw[i], t[i]) for i in range(300)])
    raw_angle, out_angle = noisy.as_rotvec()[:, 2], Rotation.from_matrix(out).as_rotvec()[:, 2]
    return _jitter(raw_angle) / _jitter(out_angle), _lag_frames(clean, out_angle)


def _sine_translation_run(amplitude_m: float, sigma_m: float) -> tuple[float, float]:
    """(jitter reduction, lag in frames) of the translation filter on a noisy sine along x."""
    rng = np.random.default_rng(0)
    t = np.arange(300) / FPS
    clean = amplitude_m * np.sin(2 * math.pi * t)
    raw = np.stack([clean, np.zeros(300), np.full(300, 3.0)], axis=-1) + rng.normal(0, sigma_m, (300, 3))
    f = OneEuroFilter.from_config(DEFAULTS.translation, vector_speed=True)
    out = np.array([f(raw[i], t[i]) for i in range(300)])
    return _jitter(raw[:, 0]) / _jitter(out[:, 0]), _lag_frames(clean, out[:, 0])


def test_slow_motion_jitter_reduction_pinned() -> None:
    rot_gain, rot_lag = _sine_rotation_run(amplitude_rad=0.2, sigma_rad=0.02)
    tr_gain, tr_lag = _sine_translation_run(amplitude_m=0.1, sigma_m=0.01)
    assert 2.6 <= rot_gain <= 3.0 and 1.25 <= rot_lag <= 1.55, (rot_gain, rot_lag)
    assert 4.5 <= tr_gain <= 5.0 and 2.4 <= tr_lag <= 2.7, (tr_gain, tr_lag)


def test_fast_motion_lag_at_most_one_and_a_half_frames() -> None:
    rot_gain, rot_lag = _sine_rotation_run(amplitude_rad=1.0, sigma_rad=0.02)
    tr_gain, tr_lag = _sine_translation_run(amplitude_m=0.5, sigma_m=0.01)
    assert rot_lag <= 1.5 and tr_lag <= 1.5, (rot_lag, tr_lag)
    assert round(rot_lag) <= 1 and round(tr_lag) <= 1  # whole-frame cross-correlation peak
    assert rot_gain > 1.0 and tr_gain > 1.0, (rot_gain, tr_gain)


def test_speed_adaptation_cuts_lag() -> None:
    """The same sine is followed with less lag when beta > 0 than with beta = 0."""
    t = np.arange(300) / FPS
    clean = 0.5 * np.sin(2 * math.pi * t)[:, None]
    lags = []
    for beta in (0.0, DEFAULTS.translation.beta):
        f = OneEuroFilter(min_cutoff_hz=DEFAULTS.translation.min_cutoff_hz, beta=beta,
                          d_cutoff_hz=DEFAULTS.translation.d_cutoff_hz)
        lags.append(_lag_frames(clean[:, 0], np.array([f(clean[i], t[i])[0] for i in range(300)])))
    assert lags[1] < lags[0] - 0.5, lags


# ------------------------------------------------------------------------------ SO(3)


def test_quaternion_helpers_match_scipy_near_zero_and_pi() -> None:
    angles = np.array([0.0, 1e-12, 1e-6, 0.5, 2.0, math.pi - 1e-6, math.pi])
    axes = Rotation.random(len(angles), random_state=0).as_rotvec()
    rotvecs = np.concatenate([axes / np.linalg.norm(axes, axis=1, keepdims=True) * angles[:, None],
                              Rotation.random(30, random_state=1).as_rotvec()])
    mats = Rotation.from_rotvec(rotvecs).as_matrix()
    quat = so3.quat_from_matrix(mats)
    np.testing.assert_allclose(so3.quat_to_matrix(quat), mats, atol=1e-12)
    np.testing.assert_allclose(so3.quat_to_matrix(so3.quat_exp(rotvecs)), mats, atol=1e-12)
    logs = so3.quat_log(-quat)  # the sign of q does not matter
    np.testing.assert_allclose(np.linalg.norm(logs, axis=1), np.linalg.norm(rotvecs, axis=1), atol=1e-9)
    np.testing.assert_allclose(Rotation.from_rotvec(logs).as_matrix(), mats, atol=1e-12)
    product = so3.quat_to_matrix(so3.quat_multiply(quat[:-1], quat[1:]))
    np.testing.assert_allclose(product, mats[:-1] @ mats[1:], atol=1e-12)


def test_so3_beta_zero_is_slerp_known_value() -> None:
    fc, dt, theta = 1.5, 1 / FPS, 0.8
    f = SO3OneEuroFilter(min_cutoff_hz=fc, beta=0.0, d_cutoff_hz=1.0)
    np.testing.assert_array_equal(f(np.eye(3), 0.0), np.eye(3))
    out = f(_rz(theta), dt)
    np.testing.assert_allclose(out, _rz(_alpha(fc, dt) * theta), rtol=0, atol=1e-9)


def test_so3_crosses_pi_without_flips() -> None:
    step = 0.05  # rad per frame, 1.5 rad/s, from 2.0 rad through pi to 4.95 rad
    angles = 2.0 + step * np.arange(60)
    raw = _rz(angles)
    assert np.any(np.diff(np.sign(Rotation.from_matrix(raw).as_rotvec()[:, 2])) != 0)  # axis-angle wraps
    f = SO3OneEuroFilter.from_config(DEFAULTS.rotation)
    out = np.array([f(raw[i], i / FPS) for i in range(60)])
    np.testing.assert_allclose(out @ out.transpose(0, 2, 1), np.broadcast_to(np.eye(3), out.shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(out), 1.0, atol=1e-5)
    moves = _angle_between(out[:-1], out[1:])
    assert moves.max() <= step * 1.2, moves.max()  # catching up after the start overshoots ~11 %
    unwrapped = np.unwrap(Rotation.from_matrix(out).as_rotvec()[:, 2] % (2 * math.pi))
    assert unwrapped[-1] > math.pi + 1.0 and np.all(np.diff(unwrapped) > 0)  # went through pi, forwards
    assert _angle_between(out[-1], raw[-1]) < 0.15


def test_so3_constant_rotation_is_returned() -> None:
    r0 = Rotation.from_rotvec([0.4, -2.9, 0.7]).as_matrix()
    f = SO3OneEuroFilter.from_config(DEFAULTS.rotation)
    outs = np.array([f(r0, i / FPS) for i in range(40)])
    np.testing.assert_allclose(outs, np.broadcast_to(r0, outs.shape), atol=1e-12)
    f32 = SO3OneEuroFilter.from_config(DEFAULTS.rotation)
    r0_t = torch.tensor(r0, dtype=torch.float32)
    outs_t = torch.stack([f32(r0_t, i / FPS) for i in range(10)])
    assert outs_t.dtype == torch.float32 and torch.allclose(outs_t, r0_t.expand(10, 3, 3), atol=1e-6)


def test_so3_noisy_rotations_converge_toward_the_true_one() -> None:
    rng = np.random.default_rng(1)
    truth = Rotation.from_rotvec([[0.3, 1.0, -0.5], [2.5, 0.0, 1.6], [0.0, 0.0, math.pi - 1e-3]])
    f = SO3OneEuroFilter.from_config(DEFAULTS.rotation)
    raw_err, out_err = [], []
    for i in range(150):
        raw = (truth * Rotation.from_rotvec(rng.normal(0, 0.05, (3, 3)))).as_matrix()  # (3 joints, 3, 3)
        out = f(raw, i / FPS)
        if i >= 30:
            raw_err.append(_angle_between(raw, truth.as_matrix()))
            out_err.append(_angle_between(out, truth.as_matrix()))
    assert np.mean(out_err) < 0.5 * np.mean(raw_err), (np.mean(out_err), np.mean(raw_err))


def test_so3_vectorised_equals_one_rotation_at_a_time() -> None:
    rng = np.random.default_rng(2)
    seq = Rotation.random(20 * 55, random_state=4).as_matrix().reshape(20, 55, 3, 3)
    stamps = np.cumsum(rng.uniform(0.02, 0.05, 20))
    together = SO3OneEuroFilter.from_config(DEFAULTS.rotation)
    single = [SO3OneEuroFilter.from_config(DEFAULTS.rotation) for _ in range(3)]
    for frame, t in zip(seq, stamps):
        out = together(frame, t)
        for j, fj in enumerate(single):
            np.testing.assert_allclose(out[j], fj(frame[j], t), atol=1e-12)


def test_so3_repeated_and_backwards_stamps() -> None:
    f = SO3OneEuroFilter.from_config(DEFAULTS.rotation)
    f(_rz(0.0), 0.0)
    y1 = f(_rz(0.3), 1 / FPS)
    np.testing.assert_array_equal(f(_rz(2.0), 1 / FPS), y1)
    np.testing.assert_array_equal(f(_rz(-2.0), -5.0), y1)
    assert f.num_skipped == 2
    assert np.all(np.isfinite(f(_rz(0.3), 2 / FPS)))
    with pytest.raises(ValueError, match=r"expected shape \(\.\.\., 3, 3\)"):
        f(np.eye(4), 3.0)


# ------------------------------------------------------------------------------ persons and tracks


def _person(track_id: int, rng: np.random.Generator, *, offset: float = 0.0) -> PersonEstimate:
    def aa(*shape: int) -> torch.Tensor:
        return torch.tensor(rng.normal(0, 0.05, shape) + offset, dtype=torch.float32)

    params = SMPLXParams.from_axis_angle(
        global_orient=aa(1, 3) + torch.tensor([math.pi - 0.02, 0, 0]), body_pose=aa(1, 21, 3),
        left_hand_pose=aa(1, 15, 3), right_hand_pose=aa(1, 15, 3), jaw_pose=aa(1, 3),
        betas=aa(1, 10), expression=aa(1, 10), transl=aa(1, 3) + torch.tensor([0.0, 0.0, 3.0]))
    joints3d = rng.normal(0, 0.01, (127, 3)) + offset + [0.0, 0.0, 3.0]
    return PersonEstimate(track_id=track_id, box_xyxy=rng.uniform(0, 400, 4), score=0.8, params=params,
                          joints3d=joints3d, joints2d=joints3d[:, :2] * 500.0,
                          confidence=PartConfidence(body=0.9, left_hand=0.5))


def test_person_smoother_keeps_params_valid_and_raw_fields() -> None:
    rng = np.random.default_rng(5)
    smoother = PersonSmoother.from_config(DEFAULTS)
    for i in range(20):
        person = _person(4, rng)
        out = smoother(person, 100.0 + i / FPS)
        p = out.params
        SMPLXParams(**{f.name: getattr(p, f.name) for f in dataclasses.fields(p)})  # validates again
        for f in dataclasses.fields(p):
            assert getattr(p, f.name).shape == getattr(person.params, f.name).shape
            assert getattr(p, f.name).dtype == torch.float32
        rots = torch.cat([p.global_orient, p.body_pose[0], p.left_hand_pose[0], p.jaw_pose])
        assert torch.allclose(rots @ rots.transpose(-1, -2), torch.eye(3).expand_as(rots), atol=1e-5)
        assert out.track_id == 4 and out.score == person.score and out.confidence == person.confidence
        np.testing.assert_array_equal(out.box_xyxy, person.box_xyxy)
        # joints2d are smoothed with the joints3d weights: a linear image of joints3d stays one.
        np.testing.assert_allclose(out.joints2d, out.joints3d[:, :2] * 500.0, rtol=1e-5, atol=1e-3)
        if i > 0:
            assert not torch.equal(p.body_pose, person.params.body_pose)  # smoothing happened
            assert not np.array_equal(out.joints3d, person.joints3d)


def test_stage_disabled_passes_through() -> None:
    rng = np.random.default_rng(6)
    stage = SmoothingStage.from_config(dataclasses.replace(DEFAULTS, enabled=False))
    persons = [_person(1, rng), _person(2, rng)]
    stage(persons, 0.0)
    out = stage([_person(1, rng), persons[1]], 1 / FPS)
    assert out[1] is persons[1] and stage.track_ids == ()


def test_stage_drop_and_reset_start_tracks_fresh() -> None:
    rng = np.random.default_rng(7)
    stage = SmoothingStage.from_config(DEFAULTS)
    for i in range(10):
        stage([_person(7, rng), _person(8, rng)], i / FPS)
    assert stage.track_ids == (7, 8)
    newcomer = _person(7, rng, offset=1.0)
    kept = stage([newcomer], 10 / FPS)[0]  # same id, still smoothed against the old track
    assert not np.allclose(kept.joints3d, newcomer.joints3d, atol=1e-3)
    stage.drop([7, 99])
    assert stage.track_ids == (8,)
    fresh = stage([newcomer], 11 / FPS)[0]  # first estimate of a new track passes through
    np.testing.assert_array_equal(fresh.joints3d, newcomer.joints3d)
    assert torch.equal(fresh.params.body_pose, newcomer.params.body_pose)
    stage.reset()
    assert stage.track_ids == ()


def test_stage_handles_bad_stamps_and_ids() -> None:
    rng = np.random.default_rng(8)
    stage = SmoothingStage.from_config(DEFAULTS)
    first = stage([_person(3, rng)], 5.0)[0]
    for stamp in (5.0, 4.0):  # repeated, backwards: previous output, no NaN
        again = stage([_person(3, rng)], stamp)[0]
        assert torch.equal(again.params.body_pose, first.params.body_pose)
        np.testing.assert_array_equal(again.joints2d, first.joints2d)
    assert np.isfinite(stage([_person(3, rng)], 5.1)[0].joints3d).all()
    with pytest.raises(ValueError, match="unique"):
        stage([_person(3, rng), _person(3, rng)], 6.0)
    with pytest.raises(ValueError, match="finite time"):
        stage([_person(3, rng)], float("inf"))
