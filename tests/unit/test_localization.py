"""Localization Module: soft-argmax convention on known volumes, shapes, gradients."""

import pytest
import torch

from robosmplx_core.nets.localization import LocalizationModule, soft_argmax_3d


def _centre(i: int, n: int) -> float:
    return (2 * i + 1) / n - 1


@pytest.mark.parametrize("voxel", [(0, 0, 0), (3, 5, 7), (7, 15, 9)])
def test_delta_volume_gives_its_voxel_centre(voxel):
    d, h, w = voxel
    volume = torch.zeros(2, 3, 8, 16, 12)
    volume[1, 2, d, h, w] = 1e4  # a sharp peak: softmax is one-hot
    xyz = soft_argmax_3d(volume)
    expected = torch.tensor([_centre(w, 12), _centre(h, 16), _centre(d, 8)])
    torch.testing.assert_close(xyz[1, 2], expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(xyz[0, 0], torch.zeros(3), atol=1e-6, rtol=0)  # uniform -> centre


def test_two_equal_peaks_average():
    volume = torch.full((1, 1, 4, 4, 4), -1e4)
    volume[0, 0, 1, 1, 0] = 0.0
    volume[0, 0, 1, 1, 3] = 0.0
    x, y, z = soft_argmax_3d(volume)[0, 0].tolist()
    assert x == pytest.approx(0.0, abs=1e-6) and y == pytest.approx(_centre(1, 4)) and z == pytest.approx(_centre(1, 4))


def test_soft_argmax_is_differentiable():
    volume = torch.randn(1, 1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(soft_argmax_3d, (volume,))


def test_soft_argmax_empty_batch_and_bad_rank():
    assert soft_argmax_3d(torch.zeros(0, 5, 4, 4, 4)).shape == (0, 5, 3)
    with pytest.raises(ValueError, match="B, J, D, H, W"):
        soft_argmax_3d(torch.zeros(5, 4, 4, 4))


@pytest.mark.parametrize("batch", [0, 1, 4])
def test_module_shapes(batch):
    module = LocalizationModule(in_channels=16, num_joints=21, num_parts=16, depth=8, segm_channels=8).eval()
    with torch.no_grad():
        out = module(torch.randn(batch, 16, 8, 8))
    assert out.lf.shape == (batch, 21 * 8, 8, 8)
    assert out.joints.shape == (batch, 21, 3)
    assert out.segm_logits.shape == (batch, 17, 16, 16)
    if batch:
        assert out.joints.abs().max() < 1.0


def test_paper_sizes():
    """F 512 x 32 x 32 -> LF 32J x 32 x 32, S (P+1) x 64 x 64 (hand: J = 21, P = 16)."""
    module = LocalizationModule(in_channels=512, num_joints=21, num_parts=16, depth=32).eval()
    with torch.no_grad():
        out = module(torch.randn(1, 512, 32, 32))
    assert out.lf.shape == (1, 32 * 21, 32, 32) and out.segm_logits.shape == (1, 17, 64, 64)
