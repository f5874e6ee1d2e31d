"""The "robosmplx" backend (``estimate.network_backend``) on real vtest.avi frames with a tiny
random-weight whole-body checkpoint: plumbing only (an untrained network's poses mean nothing):
shapes, track ids, finiteness, determinism, the translation's dependence on K, the pipeline
facade and the ``robosmplx predict`` CLI. Needs ``make setup``'s media and detector."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from robosmplx_core.cli import main
from robosmplx_core.config import load_config
from robosmplx_core.estimate.network_backend import NetworkBackend, NetworkEvidence
from robosmplx_core.media import sample_path
from robosmplx_core.nets.checkpoint import save_checkpoint
from robosmplx_core.nets.specs import BODY_SPEC
from robosmplx_core.nets.subnet import PartSubnetwork
from robosmplx_core.nets.testing import TINY_NETWORK_CONFIG, TINY_SUBNET_CONFIG, randomize_heads
from robosmplx_core.nets.wholebody import WholeBodyNetwork
from robosmplx_core.pipeline import Estimator
from robosmplx_core.types import Frame, PersonEstimate, Tracks

TINY, TINY_NET = TINY_SUBNET_CONFIG, TINY_NETWORK_CONFIG
BOXES = np.array([[300.0, 80.0, 360.0, 250.0], [540.0, 300.0, 640.0, 560.0]], np.float32)  # pixels of vtest


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    net = randomize_heads(WholeBodyNetwork.from_config(TINY_NET)).eval()
    return save_checkpoint(tmp_path_factory.mktemp("net") / "ckpt", network=net, config=TINY_NET)


@pytest.fixture(scope="module")
def frames(vtest_frames) -> list[Frame]:
    return vtest_frames[:3]


def _tracks(ids=(7, 3)) -> Tracks:
    n = len(ids)
    return Tracks(np.array(ids), BOXES[:n], np.full(n, 0.9, np.float32), np.ones(n, np.int64))


def test_observe_and_fit_per_track(ckpt, frames) -> None:
    backend = NetworkBackend.from_checkpoint(ckpt, num_betas=16, num_expression=10)
    assert backend.observe(frames[0], Tracks.empty()) == [] and backend.fit([], np.eye(3)) == []
    K = np.array([[500.0, 0.0, 384.0], [0.0, 500.0, 288.0], [0.0, 0.0, 1.0]])
    frame = Frame(frames[0].image, stamp_s=0.0, K=K)
    obs = backend.observe(frame, _tracks())
    assert [o.track_id for o in obs] == [7, 3] and all(isinstance(o.evidence, NetworkEvidence) for o in obs)
    fits = backend.fit(obs, K)
    assert [f.track_id for f in fits] == [7, 3]
    for fit, box in zip(fits, BOXES):
        assert fit.params.batch_size == 1 and fit.params.betas.shape == (1, 16)  # padded to the body model
        assert not fit.params.betas[:, 10:].any() and np.array_equal(fit.box_xyxy, box)
        assert 0.0 <= fit.confidence.left_hand <= 1.0 and fit.confidence.body == 1.0
    # the translation fit computes from K is the network's own for the same K
    with torch.no_grad():
        out = backend.network(_normalised(frame), torch.from_numpy(BOXES),
                              torch.tensor(K, dtype=torch.float32).expand(2, 3, 3))
    torch.testing.assert_close(torch.cat([f.params.transl for f in fits]), out.params.transl)
    torch.testing.assert_close(fits[1].params.body_pose, out.params.body_pose[1:2])
    # translation scales with the focal length (depth = 2 f / (s * side)); nothing else changes
    far = backend.fit(obs, K * np.array([[2.0], [2.0], [1.0]]))
    torch.testing.assert_close(far[0].params.transl[:, 2], 2 * fits[0].params.transl[:, 2])
    torch.testing.assert_close(far[0].params.global_orient, fits[0].params.global_orient)
    again = backend.fit(backend.observe(frame, _tracks()), K)  # deterministic
    assert all(torch.equal(a.params.transl, b.params.transl) for a, b in zip(fits, again))


def _normalised(frame: Frame) -> torch.Tensor:
    from robosmplx_core.nets.images import normalize_images

    return normalize_images(torch.from_numpy(frame.image).permute(2, 0, 1)[None]).expand(2, -1, -1, -1)


def test_refuses_unusable_checkpoints_and_body_models(ckpt, tmp_path) -> None:
    with pytest.raises(ValueError, match="body_model.num_betas>=10"):
        NetworkBackend.from_checkpoint(ckpt, num_betas=5)
    body = save_checkpoint(tmp_path, network=PartSubnetwork.from_config(BODY_SPEC, TINY), config=TINY)
    with pytest.raises(ValueError, match="holds a 'subnet:body' network; pipeline.backend=robosmplx needs a "
                                         "'wholebody' checkpoint"):  # fmt: skip
        NetworkBackend.from_checkpoint(body)


def _run(estimator: Estimator, frames: list[Frame]) -> list[list[PersonEstimate]]:
    estimator.reset()
    return [estimator(frame) for frame in frames]


def test_estimator_runs_the_checkpoint(ckpt, frames) -> None:
    cfg = load_config(None, ["pipeline.backend=robosmplx", f"pipeline.checkpoint={ckpt}"])
    estimator = Estimator.from_config(cfg)
    try:
        assert isinstance(estimator.backend, NetworkBackend)
        first = _run(estimator, frames)
        assert sum(len(p) for p in first) >= 2  # vtest's pedestrians are tracked
        for persons in first:
            assert len({p.track_id for p in persons}) == len(persons)
            for p in persons:
                assert p.params.batch_size == 1 and p.joints3d.shape[1] == 3 and p.joints2d.shape[1] == 2
                assert np.isfinite(p.joints3d).all() and np.isfinite(p.joints2d).all()
                assert all(torch.isfinite(getattr(p.params, f)).all() for f in ("body_pose", "transl", "betas"))
        second = _run(estimator, frames)
        assert [[p.track_id for p in ps] for ps in first] == [[p.track_id for p in ps] for ps in second]
        for a, b in zip(sum(first, []), sum(second, [])):
            assert np.array_equal(a.joints3d, b.joints3d)
    finally:
        estimator.close()


def test_predict_cli_with_the_checkpoint(ckpt, tmp_path) -> None:
    out = tmp_path / "out"
    assert main(["predict", str(sample_path("vtest.avi")), "--out", str(out), "--max-frames", "3", "--quiet",
                 "--overlay", "skeleton", "pipeline.backend=robosmplx", f"pipeline.checkpoint={ckpt}"]) == 0
    lines = (out / "estimates.jsonl").read_text().splitlines()
    assert len(lines) == 3 and all(isinstance(json.loads(line), dict) for line in lines)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["pipeline"]["checkpoint"] == str(ckpt) and summary["unique_tracks"] >= 1


def test_predict_cli_without_a_usable_checkpoint_exits_2(tmp_path, capsys) -> None:
    args = ["predict", str(sample_path("vtest.avi")), "--out", str(tmp_path), "--max-frames", "1", "--quiet",
            "pipeline.backend=robosmplx"]  # fmt: skip
    assert main(args) == 2
    assert "pipeline.checkpoint: required when pipeline.backend=robosmplx" in capsys.readouterr().err
    assert main(args + [f"pipeline.checkpoint={tmp_path / 'nope'}"]) == 2
    assert "checkpoint folder" in capsys.readouterr().err
