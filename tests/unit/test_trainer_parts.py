"""Trainer building blocks: pickle-free state round trip, LR schedules, batch partitioning."""

from __future__ import annotations

import pytest
import torch

from training.config import ScheduleConfig
from training.data import BatchPlan
from training.schedule import build_scheduler, lr_factor
from training.state import capture_rng, flatten_state, restore_rng, unflatten_state


def _adam_state() -> dict:
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.8, 0.99))
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    return opt.state_dict()


def test_optimizer_state_round_trip_is_exact() -> None:
    state = _adam_state()
    tensors: dict[str, torch.Tensor] = {}
    skeleton = flatten_state(state, "optimizer", tensors)
    assert "optimizer.state.0.exp_avg" in tensors
    back = unflatten_state(skeleton, tensors)
    assert back["param_groups"][0]["betas"] == (0.8, 0.99)  # tuples stay tuples
    assert set(back["state"]) == {0, 1}  # integer keys stay integers
    for key in (0, 1):
        for name, value in state["state"][key].items():
            torch.testing.assert_close(back["state"][key][name], value, rtol=0, atol=0)
    with pytest.raises(TypeError, match="optimizer.x: cannot store a object"):
        flatten_state({"x": object()}, "optimizer", {})
    with pytest.raises(ValueError, match="damaged"):
        unflatten_state(skeleton, {})


def test_rng_round_trip() -> None:
    tensors: dict[str, torch.Tensor] = {}
    skeleton = flatten_state(capture_rng(), "rng", tensors)
    expected = torch.rand(3)
    restore_rng(unflatten_state(skeleton, tensors))
    torch.testing.assert_close(torch.rand(3), expected, rtol=0, atol=0)


def test_schedules() -> None:
    cos = ScheduleConfig(kind="cosine", warmup_steps=10, warmup_start_ratio=0.1, final_lr_ratio=0.05)
    assert lr_factor(0, 110, cos) == pytest.approx(0.1)
    assert lr_factor(10, 110, cos) == pytest.approx(1.0)
    assert lr_factor(109, 110, cos) == pytest.approx(0.05)
    step = ScheduleConfig(kind="step", milestones=(0.5, 0.75), gamma=0.1)
    assert [lr_factor(s, 101, step) for s in (0, 49, 51, 76, 100)] == pytest.approx([1, 1, 0.1, 0.01, 0.01])
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    sched = build_scheduler(opt, 110, cos)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2)
    unflatten_state(flatten_state(sched.state_dict(), "scheduler", {}), {})  # numbers only
    with pytest.raises(ValueError, match="schedule.kind"):
        ScheduleConfig(kind="linear")


def test_batch_plan_partition_does_not_depend_on_process_count() -> None:
    one = BatchPlan(samples_per_step=8, positives=True, world_size=1, rank=0, accumulate=2, seed=0)
    ranks = [BatchPlan(samples_per_step=8, positives=True, world_size=2, rank=r, accumulate=1, seed=0) for r in (0, 1)]
    assert [list(one.slots(m)) for m in (0, 1)] == [list(p.slots(0)) for p in ranks]
    with pytest.raises(ValueError, match="multiple of processes x accumulate"):
        BatchPlan(samples_per_step=6, positives=True, world_size=4, rank=0, accumulate=1, seed=0)


def test_without_tensorboard_one_warning_and_metrics_file(tmp_path, monkeypatch, capsys) -> None:
    import sys

    from training.logs import RunLog, draw_joints

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now raises ImportError
    log = RunLog(tmp_path, enabled=True, total_steps=2, start_step=0, progress=False)
    assert log.writer is None
    log.scalars(1, "train", {"loss": 2.0})
    log.images(1, "panel", torch.zeros(1, 3, 8, 8))
    log.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning: no TensorBoard logs" in err
    assert (tmp_path / "metrics.jsonl").read_text() == '{"step": 1, "split": "train", "loss": 2.0}\n'
    panel = draw_joints(torch.zeros(2, 3, 8, 8), torch.full((2, 3, 2), 4.0), torch.full((2, 3, 2), 2.0))
    assert panel.shape == (2, 3, 16, 16) and panel[:, 1].max() > 0 and panel[:, 0].max() > 0
