"""ONNX export of the body/hand/face subnetworks and the whole-body network: parity with eager
PyTorch in ONNX Runtime (max abs error <= 1e-4) for empty and non-empty batches."""

import numpy as np
import pytest
import torch

from robosmplx_core.nets.export import (OnnxRunner, TorchRunner, compare_runners, export_subnet_onnx,
                                        export_wholebody_onnx)
from robosmplx_core.nets.specs import BODY_SPEC, FACE_SPEC, HAND_SPEC
from robosmplx_core.nets.subnet import PartSubnetwork
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS, randomize_heads
from robosmplx_core.nets.wholebody import WholeBodyNetwork

pytest.importorskip("onnxruntime")
TOLERANCE = 1e-4


def _subnet(spec, **overrides):
    torch.manual_seed(0)
    return randomize_heads(PartSubnetwork(spec, **dict(TINY_SUBNET_KWARGS, **overrides)))


@pytest.mark.parametrize("spec", [BODY_SPEC, HAND_SPEC, FACE_SPEC], ids=lambda s: s.name)
def test_subnet_parity(spec, tmp_path):
    net = _subnet(spec)
    before = TorchRunner(net)(np.ones((1, 3, 64, 64), np.float32))
    runner = OnnxRunner(export_subnet_onnx(net, tmp_path / f"{spec.name}.onnx"), num_threads=1)
    after = TorchRunner(net)(np.ones((1, 3, 64, 64), np.float32))
    assert all(np.array_equal(a, b) for a, b in zip(before, after)), "export must not change the model"
    assert runner.output_names == net.output_names
    rng = np.random.default_rng(0)
    for batch in (0, 1, 3):
        images = rng.standard_normal((batch, 3, 64, 64)).astype(np.float32)
        report = compare_runners(TorchRunner(net), runner, [images])
        assert report.max_abs_error <= TOLERANCE, report
    rot = runner(images)[net.output_names.index("rotmats")]
    assert np.abs(rot - np.eye(3)).max() > 1e-3  # non-trivial rotations were compared


def test_learning_check_body_parity(tmp_path):
    """The learning check's body subnetwork (the "small" dense-conv backbone, the 2D keypoint
    stage: heatmaps and their decoded keypoints, the facing branch reading a head patch placed
    by them, and the lifter) exports too, at batch 0 and 2."""
    net = _subnet(BODY_SPEC, backbone="small", keypoint_joints=25, facing_head=True, lifter=True)
    torch.nn.init.normal_(net.lifter.out.weight, std=0.01)  # a lifter that adds something
    runner = OnnxRunner(export_subnet_onnx(net, tmp_path / "body_small.onnx"), num_threads=1)
    assert runner.output_names[-3:] == ("heatmaps", "keypoints2d", "facing")
    for batch in (0, 2):
        images = np.random.default_rng(1).standard_normal((batch, 3, 64, 64)).astype(np.float32)
        report = compare_runners(TorchRunner(net), runner, [images])
        assert report.max_abs_error <= TOLERANCE, report


def test_wholebody_parity(tmp_path):
    torch.manual_seed(0)
    parts = [PartSubnetwork(spec, **TINY_SUBNET_KWARGS) for spec in (BODY_SPEC, HAND_SPEC, FACE_SPEC)]
    net = WholeBodyNetwork(*parts, box_head_channels=16)
    boxes = torch.tensor([[60.0, 10.0, 100.0, 110.0]] * 4)
    K = torch.tensor([[150.0, 0.0, 80.0], [0.0, 150.0, 60.0], [0.0, 0.0, 1.0]]).expand(4, 3, 3)
    randomize_heads(net)
    runner = OnnxRunner(export_wholebody_onnx(net, tmp_path / "wholebody.onnx", image_size_hw=(120, 160)),
                        num_threads=1)
    rng = np.random.default_rng(0)
    for batch, (height, width) in [(0, (120, 160)), (1, (120, 160)), (3, (120, 160)), (2, (150, 110))]:
        images = rng.standard_normal((batch, 3, height, width)).astype(np.float32)
        box = np.tile(np.float32([[0.3 * width, 0.1 * height, 0.7 * width, 0.9 * height]]), (batch, 1))
        box += rng.uniform(-5, 5, box.shape).astype(np.float32)
        report = compare_runners(TorchRunner(net), runner, [images, box, K[:1].expand(batch, 3, 3).numpy()])
        assert report.max_abs_error <= TOLERANCE, (batch, height, width, report)
    flat = tuple(torch.from_numpy(x) for x in runner(images, box, K[:2].numpy()))
    out = net.unflatten(flat)  # ONNX outputs -> the typed whole-body output
    assert out.params.batch_size == 2 and out.left_hand.batch_size == 2


@pytest.mark.slow
def test_paper_size_body_parity(tmp_path):
    """The paper's body subnetwork (ResNet-50, C = 512, D = 32, 256 px)."""
    net = _subnet(BODY_SPEC, backbone="resnet50", feature_channels=512, heatmap_depth=32, hidden_channels=256,
                  segm_channels=128, mlp_channels=1024, input_size=256)
    runner = OnnxRunner(export_subnet_onnx(net, tmp_path / "body.onnx"))
    images = np.random.default_rng(0).standard_normal((2, 3, 256, 256)).astype(np.float32)
    report = compare_runners(TorchRunner(net), runner, [images])
    assert report.max_abs_error <= TOLERANCE, report
