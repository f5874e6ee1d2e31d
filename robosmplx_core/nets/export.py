"""ONNX export of the subnetworks and the whole-body network, and the torch/ONNX Runtime parity check.

Exported graphs are the ``forward_flat`` export paths: flat float32 tensors in and out, named
after ``output_names`` (``images`` for a subnetwork; ``images``, ``boxes_xyxy``, ``K`` for the
whole-body network), with a dynamic batch axis (``batch``; the hand outputs of the whole-body
graph have ``hand_batch`` = 2 x batch: right hands, then mirrored left hands) and, for the
whole-body graph, dynamic image height/width. Export uses the TorchScript-based exporter
(``dynamo=False``; the dynamo exporter needs ``onnxscript``), opset 17 (GridSample needs >= 16).

Runners share one interface, ``runner(*inputs: np.ndarray) -> tuple[np.ndarray, ...]`` with
``output_names``: ``TorchRunner`` (eager ``forward_flat``) and ``OnnxRunner`` (ONNX Runtime,
CPU). ``compare_runners`` runs both on the same inputs and reports the max abs error.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol, Sequence

import numpy as np
import torch
from torch import nn

from robosmplx_core.nets.subnet import PartSubnetwork
from robosmplx_core.nets.wholebody import WholeBodyNetwork

DEFAULT_OPSET = 17
SUBNET_INPUT_NAMES = ("images",)
WHOLEBODY_INPUT_NAMES = ("images", "boxes_xyxy", "K")


class Runner(Protocol):
    """Anything that maps numpy inputs to the flat outputs named ``output_names``."""

    output_names: tuple[str, ...]

    def __call__(self, *inputs: np.ndarray) -> tuple[np.ndarray, ...]: ...


class _FlatAdapter(nn.Module):
    """Exposes a network's ``forward_flat`` as ``forward`` for the tracer."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.net.forward_flat(*inputs)


@contextlib.contextmanager
def _export_mode(net: nn.Module) -> Iterator[None]:
    """Eval mode, no grad, quiet tracer; restores the training flag afterwards."""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
            yield
    finally:
        net.train(was_training)


def _export(net: nn.Module, example: tuple[torch.Tensor, ...], path: Path, input_names: Sequence[str],
            dynamic_axes: dict[str, dict[int, str]], opset: int) -> Path:  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _export_mode(net):
        adapter = _FlatAdapter(net).eval()
        torch.onnx.export(adapter, example, str(path), dynamo=False, input_names=list(input_names),
                          output_names=list(net.output_names), dynamic_axes=dynamic_axes, opset_version=opset,
                          do_constant_folding=True)  # fmt: skip
    return path


def export_subnet_onnx(net: PartSubnetwork, path: str | Path, *, batch_size: int = 2,
                       opset: int = DEFAULT_OPSET) -> Path:  # fmt: skip
    """Export ``net.forward_flat``: ``images (batch, 3, S, S)`` -> ``net.output_names``.

    Args:
        net: the subnetwork (exported in eval mode; its training flag is restored).
        path: the ``.onnx`` file to write (parent folders are created).
        batch_size: batch of the example input used for tracing (any batch works afterwards).
        opset: ONNX opset (>= 16).
    """
    size = net.input_size
    example = (torch.zeros(batch_size, 3, size, size),)
    axes = {name: {0: "batch"} for name in SUBNET_INPUT_NAMES + net.output_names}
    return _export(net, example, Path(path), SUBNET_INPUT_NAMES, axes, opset)


def export_wholebody_onnx(net: WholeBodyNetwork, path: str | Path, *, image_size_hw: tuple[int, int] = (480, 640),
                          batch_size: int = 2, opset: int = DEFAULT_OPSET) -> Path:  # fmt: skip
    """Export ``net.forward_flat``: ``images (batch, 3, H, W)``, ``boxes_xyxy (batch, 4)``,
    ``K (batch, 3, 3)`` -> ``net.output_names``. Batch, H and W are dynamic; ``image_size_hw``
    only sizes the tracing example."""
    height, width = image_size_hw
    example = _wholebody_example(batch_size, height, width)
    axes: dict[str, dict[int, str]] = {"images": {0: "batch", 2: "height", 3: "width"},
                                       "boxes_xyxy": {0: "batch"}, "K": {0: "batch"}}  # fmt: skip
    for name in net.output_names:
        axes[name] = {0: "hand_batch" if name.startswith("hand.") else "batch"}
    return _export(net, example, Path(path), WHOLEBODY_INPUT_NAMES, axes, opset)


def _wholebody_example(batch: int, height: int, width: int) -> tuple[torch.Tensor, ...]:
    """A person box in the middle of the image and a 60-degree-FOV camera."""
    box = torch.tensor([[0.35 * width, 0.1 * height, 0.65 * width, 0.9 * height]]).repeat(batch, 1)
    focal = 0.5 * width / np.tan(np.deg2rad(30.0))
    K = torch.tensor([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]], dtype=torch.float32)
    return torch.zeros(batch, 3, height, width), box, K.expand(batch, 3, 3).contiguous()


class TorchRunner:
    """Eager ``forward_flat`` of a network behind the ``Runner`` interface (eval mode, no grad)."""

    def __init__(self, net: PartSubnetwork | WholeBodyNetwork) -> None:
        self.net = net
        self.output_names: tuple[str, ...] = tuple(net.output_names)

    def __call__(self, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        with _export_mode(self.net):
            outs = self.net.forward_flat(*(torch.from_numpy(np.ascontiguousarray(x)) for x in inputs))
        return tuple(o.numpy() for o in outs)


class OnnxRunner:
    """An exported ``.onnx`` file run by ONNX Runtime (CPU) behind the ``Runner`` interface."""

    def __init__(self, path: str | Path, *, num_threads: int = 0) -> None:
        import onnxruntime as ort  # optional dependency, only needed here

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such ONNX file; export it first with robosmplx_core.nets.export")
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.output_names = tuple(o.name for o in self.session.get_outputs())

    def __call__(self, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        if len(inputs) != len(self.input_names):
            raise ValueError(f"OnnxRunner: expected inputs {self.input_names}, got {len(inputs)} arrays")
        feed = {name: np.ascontiguousarray(x, dtype=np.float32) for name, x in zip(self.input_names, inputs)}
        return tuple(self.session.run(None, feed))


@dataclass(frozen=True)
class ParityReport:
    """Max abs error between two runners on one input set.

    Fields:
        max_abs_error: the largest ``|a - b|`` over all outputs (0.0 for empty outputs).
        worst_output: the output name where it occurs.
        per_output: ``(name, max abs error)`` for every output, in output order.
    """

    max_abs_error: float
    worst_output: str
    per_output: tuple[tuple[str, float], ...]


def compare_runners(reference: Runner, candidate: Runner, inputs: Sequence[np.ndarray]) -> ParityReport:
    """Run both on ``inputs`` and report the max abs error per output.

    Raises:
        ValueError: different output names or shapes.
    """
    if tuple(reference.output_names) != tuple(candidate.output_names):
        raise ValueError(f"compare_runners: output names differ: {reference.output_names} vs {candidate.output_names}")
    errors = []
    for name, a, b in zip(reference.output_names, reference(*inputs), candidate(*inputs)):
        if a.shape != b.shape:
            raise ValueError(f"compare_runners: output {name!r} has shape {a.shape} vs {b.shape}")
        errors.append((name, float(np.abs(a - b).max()) if a.size else 0.0))
    worst = max(errors, key=lambda e: e[1])
    return ParityReport(max_abs_error=worst[1], worst_output=worst[0], per_output=tuple(errors))
