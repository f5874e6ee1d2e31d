"""Backbones: F at 1/8 resolution with the requested channels, every batch size, literal table."""

import pytest
import torch

from robosmplx_core.nets.backbones import (
    BACKBONES,
    DRND54Backbone,
    LightBackbone,
    ResNet50Backbone,
    SmallResNetBackbone,
    build_backbone,
)


def test_table_is_literal_and_complete():
    assert BACKBONES == {"resnet50": ResNet50Backbone, "drn_d_54": DRND54Backbone, "light": LightBackbone,
                         "small": SmallResNetBackbone}


def test_small_backbone_is_dense_and_starts_as_identity_blocks():
    net = build_backbone("small", out_channels=24).eval()
    # dense 3 x 3 convs only (no depthwise groups), every residual branch starting at zero
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.groups == 1 for c in convs)
    blocks = [m for m in net.modules() if type(m).__name__ == "BasicBlock"]
    assert len(blocks) == 5 and all(float(b.second[1].weight.detach().abs().sum()) == 0.0 for b in blocks)


def test_small_backbone_sizes_and_errors():
    net = SmallResNetBackbone(out_channels=8, width=8, blocks=(0, 1)).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 3, 64, 64)).shape == (2, 8, 8, 8)
    with pytest.raises(ValueError, match="width"):
        SmallResNetBackbone(width=0)
    with pytest.raises(ValueError, match="blocks"):
        SmallResNetBackbone(blocks=(1, 2, 3))


@pytest.mark.parametrize("name", ["light", "small"])
@pytest.mark.parametrize("batch", [0, 1, 4])
def test_real_time_backbone_shapes(name, batch):
    net = build_backbone(name, out_channels=24).eval()
    with torch.no_grad():
        out = net(torch.randn(batch, 3, 128, 128))
    assert out.shape == (batch, 24, 16, 16)


@pytest.mark.parametrize("output_stride", [8, 16])
def test_light_backbone_output_strides(output_stride):
    net = LightBackbone(out_channels=16, output_stride=output_stride, width_mult=0.5).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 64, 64)).shape == (1, 16, 8, 8)


def test_paper_backbones_give_512x32x32_at_256px():
    """ResNet-50 and DRN-D-54 at the paper's size: F in R^{512 x 32 x 32}."""
    x = torch.randn(1, 3, 256, 256)
    for name in ("resnet50", "drn_d_54"):
        net = build_backbone(name, out_channels=512).eval()
        with torch.no_grad():
            assert net(x).shape == (1, 512, 32, 32), name


def test_resnet_output_stride_32_is_upsampled_to_one_eighth():
    net = ResNet50Backbone(out_channels=8, output_stride=32).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 3, 64, 64)).shape == (2, 8, 8, 8)


def test_errors_say_what_is_valid():
    with pytest.raises(ValueError, match="drn_d_54"):
        build_backbone("resnet18")
    with pytest.raises(ValueError, match="output_stride"):
        ResNet50Backbone(output_stride=4)
    with pytest.raises(ValueError, match="out_channels"):
        build_backbone("light", out_channels=0)
