"""Mixed precision in the time-budgeted loop (``LoopConfig.precision``): under ``bf16`` the
network's forward passes run in bfloat16 in both stages while weights and losses stay float32."""

from __future__ import annotations

import pytest
import torch

from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset
from robosmplx_core.losses import LossWeights
from robosmplx_core.nets.specs import BODY_SPEC
from robosmplx_core.nets.subnet import PartSubnetwork
from robosmplx_core.nets.testing import TINY_SUBNET_KWARGS
from training.loop import PRECISIONS, LoopConfig, train_for
from training.objective import BodyObjective, ObjectiveConfig


@pytest.fixture(scope="module")
def samples(model):
    ds = SyntheticDataset(config=SyntheticConfig(seed=5, image_size=64, use_media_photos=False), model=model)
    return [ds[i] for i in range(4)]


def test_unknown_precision_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="precision.*fp32.*bf16.*'fp16'"):
        LoopConfig(precision="fp16")
    assert PRECISIONS == ("fp32", "bf16")


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_forward_passes_run_in_the_chosen_precision_in_both_stages(model, samples, precision, dtype) -> None:
    torch.manual_seed(0)
    net = PartSubnetwork(BODY_SPEC, **TINY_SUBNET_KWARGS, keypoint_joints=25)
    seen: dict[str, set] = {"backbone": set(), "regressor": set()}
    net.backbone.register_forward_hook(lambda m, i, o: seen["backbone"].add(o.dtype))
    net.regressor_conv.register_forward_hook(lambda m, i, o: seen["regressor"].add(o.dtype))  # second stage only
    weights = LossWeights(bm_expression=0.0, boxes=0.0, projection=0.0)
    objective = BodyObjective(body_model=model, config=ObjectiveConfig(weights=weights, render_size=16))
    before = net.regressor_out.weight.detach().clone()
    history = train_for(net, objective, samples, seconds=2.0, progress=False,
                        config=LoopConfig(pairs_per_step=2, keypoint_stage=0.5, augment=False, precision=precision))
    assert seen == {"backbone": {dtype}, "regressor": {dtype}}
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert all(torch.isfinite(torch.tensor(history.losses)))
    assert (net.regressor_out.weight - before).abs().max() > 0  # the float32 weights were updated
