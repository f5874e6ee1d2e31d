"""Network checkpoints (``nets.checkpoint``): round trips give identical outputs; missing,
tampered or mismatched files raise errors that name the problem."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from robosmplx_core.nets.checkpoint import (CHECKPOINT_FILES, FORMAT_VERSION, Checkpoint, load_checkpoint,
                                            load_network, read_meta, save_checkpoint)  # fmt: skip
from robosmplx_core.nets.config import NetworkConfig, SubnetConfig
from robosmplx_core.nets.specs import BODY_SPEC, HAND_SPEC
from robosmplx_core.nets.subnet import PartSubnetwork
from robosmplx_core.nets.testing import TINY_NETWORK_CONFIG, TINY_SUBNET_CONFIG, TINY_SUBNET_KWARGS, randomize_heads
from robosmplx_core.nets.wholebody import WholeBodyNetwork

TINY, TINY_NET = TINY_SUBNET_CONFIG, TINY_NETWORK_CONFIG


@pytest.fixture(scope="module")
def wholebody() -> WholeBodyNetwork:
    torch.manual_seed(0)
    return randomize_heads(WholeBodyNetwork.from_config(TINY_NET)).eval()


@pytest.fixture(scope="module")
def saved(wholebody, tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "wb", network=wholebody, config=TINY_NET,
                           extra_state={"step": torch.tensor(1234), "ema": torch.arange(3.0)})  # fmt: skip


def _inputs(batch: int = 2):
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(batch, 3, 96, 128, generator=gen)
    boxes = torch.tensor([[40.0, 8.0, 80.0, 90.0], [10.0, 20.0, 50.0, 80.0]])[:batch]
    K = torch.tensor([[120.0, 0.0, 64.0], [0.0, 120.0, 48.0], [0.0, 0.0, 1.0]]).expand(batch, 3, 3)
    return images, boxes, K


def test_wholebody_round_trip_gives_identical_outputs(wholebody, saved) -> None:
    assert sorted(p.name for p in saved.iterdir()) == sorted(CHECKPOINT_FILES)
    ckpt = load_checkpoint(saved)
    assert isinstance(ckpt, Checkpoint) and isinstance(ckpt.network, WholeBodyNetwork)
    assert not ckpt.network.training and ckpt.config == TINY_NET
    assert ckpt.meta.kind == "wholebody" and ckpt.meta.format_version == FORMAT_VERSION
    assert ckpt.extra_state["step"].item() == 1234 and torch.equal(ckpt.extra_state["ema"], torch.arange(3.0))
    with torch.no_grad():
        want, got = wholebody.forward_flat(*_inputs()), ckpt.network.forward_flat(*_inputs())
    assert len(want) == len(got) and all(torch.equal(a, b) for a, b in zip(want, got))
    assert isinstance(load_network(saved, device="cpu"), WholeBodyNetwork)


def test_subnetwork_round_trip_keeps_part_and_part_only(tmp_path) -> None:
    torch.manual_seed(2)
    net = randomize_heads(PartSubnetwork.from_config(HAND_SPEC, TINY, part_only=True)).eval()
    save_checkpoint(tmp_path, network=net, config=TINY, part="hand")
    meta = read_meta(tmp_path)
    assert (meta.kind, meta.part, meta.part_only) == ("subnet:hand", "hand", True)
    again = load_network(tmp_path)
    assert isinstance(again, PartSubnetwork) and again.part_only and again.spec.name == "hand"
    crops = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(net.forward_flat(crops), again.forward_flat(crops)))


def test_save_refuses_a_config_that_does_not_describe_the_network(wholebody, tmp_path) -> None:
    other = NetworkConfig(body=SubnetConfig(**dict(TINY_SUBNET_KWARGS, heatmap_depth=4)), hand=TINY, face=TINY,
                          box_head_channels=16)  # fmt: skip
    with pytest.raises(ValueError, match=r"config does not describe this network \(.*with another shape"):
        save_checkpoint(tmp_path, network=wholebody, config=other)
    with pytest.raises(ValueError, match="a WholeBodyNetwork needs its NetworkConfig"):
        save_checkpoint(tmp_path, network=wholebody, config=TINY)
    body = PartSubnetwork.from_config(BODY_SPEC, TINY)
    with pytest.raises(ValueError, match="part='hand' but the network was built with the 'body' spec"):
        save_checkpoint(tmp_path, network=body, config=TINY, part="hand")
    assert not (tmp_path / "meta.json").exists()


def test_missing_folder_and_files_are_named(saved, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist.*save_checkpoint"):
        load_network(tmp_path / "nope")
    copy = shutil.copytree(saved, tmp_path / "copy")
    (copy / "meta.json").unlink()
    (copy / "network.yaml").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks network.yaml, meta.json"):
        load_network(copy)


def test_weights_of_another_architecture_are_refused(saved, tmp_path) -> None:
    other_cfg = NetworkConfig(body=SubnetConfig(**dict(TINY_SUBNET_KWARGS, mlp_channels=32)), hand=TINY,
                              face=TINY, box_head_channels=16)  # fmt: skip
    other = save_checkpoint(tmp_path / "other", network=WholeBodyNetwork.from_config(other_cfg), config=other_cfg)
    mixed = shutil.copytree(saved, tmp_path / "mixed")
    shutil.copy(other / "weights.safetensors", mixed / "weights.safetensors")
    with pytest.raises(ValueError, match=r"does not match the wholebody architecture.*body.regressor_mlp.0.weight"
                                         r".*different architecture"):  # fmt: skip
        load_network(mixed)
    body = save_checkpoint(tmp_path / "body", network=PartSubnetwork.from_config(BODY_SPEC, TINY), config=TINY)
    shutil.copy(body / "weights.safetensors", mixed / "weights.safetensors")
    with pytest.raises(ValueError, match=r"missing: body\.backbone.*\(\+\d+ more\); \d+ unexpected: backbone"):
        load_network(mixed)


def test_tampered_files_are_refused(saved, tmp_path) -> None:
    bad = shutil.copytree(saved, tmp_path / "bad")
    weights = bad / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_network(bad)
    meta = json.loads((saved / "meta.json").read_text())
    (bad / "meta.json").write_text(json.dumps(dict(meta, format_version=FORMAT_VERSION + 1)))
    with pytest.raises(ValueError, match=f"unknown checkpoint format version {FORMAT_VERSION + 1}.*upgrade"):
        load_network(bad)
    (bad / "meta.json").write_text(json.dumps(dict(meta, kind="subnet:tail")))
    with pytest.raises(ValueError, match="unknown part 'tail'"):
        load_network(bad)
    (bad / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a robosmplx checkpoint meta file"):
        load_network(bad)
    shutil.copy(saved / "meta.json", bad / "meta.json")
    (bad / "network.yaml").write_text("body:\n  widths: 3\n")
    with pytest.raises(ValueError, match="unknown config key 'body.widths'"):
        load_network(bad)
