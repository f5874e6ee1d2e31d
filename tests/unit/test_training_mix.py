"""``data.mix``: several training sources in one run, drawn with weights, deterministically."""

from __future__ import annotations

from collections import Counter

import pytest

from robosmplx_core.body_model import BodyModel
from training.config import load_train_config
from training.sources import MixedDataset, build_training_set
from training.trainer import train
from tests.unit.test_trainer import CONFIG, TINY


class Numbers:
    """A stand-in dataset: item i is (name, i); counts one skipped entry (no real data needed)."""

    def __init__(self, name: str, n: int) -> None:
        self.name, self.n, self.skipped = name, n, Counter({f"{name}_bad": 1})

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return self.name, i


def test_mixed_dataset_follows_the_weights_and_is_deterministic() -> None:
    mix = MixedDataset([Numbers("a", 10), Numbers("b", 1000)], [3.0, 1.0], seed=5)
    assert len(mix) == 1010
    drawn = [mix[i] for i in range(4000 % len(mix))] + [mix[i] for i in range(len(mix))]
    share_a = sum(name == "a" for name, _ in drawn) / len(drawn)
    assert 0.70 < share_a < 0.80  # weight 3 : 1 whatever the members' sizes
    assert all(0 <= i < (10 if name == "a" else 1000) for name, i in drawn)
    again = MixedDataset([Numbers("a", 10), Numbers("b", 1000)], [3.0, 1.0], seed=5)
    assert [again[i] for i in range(50)] == [mix[i] for i in range(50)]
    other = MixedDataset([Numbers("a", 10), Numbers("b", 1000)], [3.0, 1.0], seed=6)
    assert [other[i] for i in range(50)] != [mix[i] for i in range(50)]
    assert mix.skipped == Counter({"a_bad": 1, "b_bad": 1})


def test_mixed_dataset_rejects_bad_members() -> None:
    with pytest.raises(ValueError, match="one positive weight per member"):
        MixedDataset([Numbers("a", 3)], [0.0])
    with pytest.raises(ValueError, match=r"members \[1\] have no samples"):
        MixedDataset([Numbers("a", 3), Numbers("b", 0)], [1.0, 1.0])


def test_mix_config_errors_say_how_to_fix() -> None:
    with pytest.raises(ValueError, match=r"data.mix\[0\]: expected a source in .* got 'h36m'"):
        load_train_config(CONFIG, ["data.mix=[{source: h36m, path: /d, weight: 1}]"])
    with pytest.raises(ValueError, match=r"data.mix\[1\].path: source mpii reads a dataset folder"):
        load_train_config(CONFIG, ["data.mix=[{source: synthetic}, {source: mpii, weight: 0.5}]"])
    with pytest.raises(ValueError, match=r"data.mix\[0\]: freihand gives hand crops, not body crops"):
        load_train_config(CONFIG, ["data.mix=[{source: freihand, path: /d}]"])


def test_a_run_trains_on_a_mix_of_two_synthetic_sets(tmp_path) -> None:
    cfg = load_train_config(CONFIG, [*TINY, f"out_dir={tmp_path}", "steps=2",
                                     "data.mix=[{source: synthetic, weight: 1}, {source: synthetic, weight: 2}]"])
    source = build_training_set(cfg.data, BodyModel.load(use_face_contour=True))
    assert isinstance(source, MixedDataset) and len(source) == 2 * cfg.data.train.length
    result = train(cfg, progress=False)
    assert result.steps == 2 and all(loss == loss for loss in result.losses)


def test_a_mix_replaces_the_single_source_settings() -> None:
    face = CONFIG.parent / "face.yaml"  # data.source=ffhq with no path: an error alone, fine with a mix
    with pytest.raises(ValueError, match="data.path"):
        load_train_config(face)
    cfg = load_train_config(face, ["data.mix=[{source: ffhq, path: /d/ffhq, weight: 0.5}, "
                                   "{source: bupt, path: /d/bupt, weight: 0.2}, {source: affectnet, path: /d/an, weight: 0.3}]"])
    assert [m.source for m in cfg.data.mix] == ["ffhq", "bupt", "affectnet"]
