"""``robosmplx eval CHECKPOINT --data NAME:PATH [--robustness]``: errors of a network checkpoint.

    robosmplx eval out/lc/L_proj --data synthetic:seed=1000,n=200 --robustness --out out/eval
    robosmplx eval ckpt/hand --data freihand:/data/FreiHAND --max-samples 500
    robosmplx eval out/train/wholebody/checkpoints/best --data ehf:/data/EHF [--image-size 512]

For each ``--data`` set (``training.eval_data``), the checkpoint's network is evaluated on the
samples as they are ("normal") or, with ``--robustness``, under every perturbation of
``training.robustness.robustness_protocol``:

- a body / hand / face subnetwork (``training.part_eval``) on crops of its input size;
- a whole-body network (``training.wholebody_eval``) on BODY sets, whose samples are then the
  full images it reads: a crop around the person of side ``--image-size`` (default: the
  ``data.train.image_size`` of the ``train.yaml`` the trainer writes beside each checkpoint,
  else 2 x the body subnetwork's input size), with the person box from the labelled joints as
  in training. The positional perturbations move / scale that person box over the unchanged
  image (an imprecise detector box, ``training.wholebody_eval.perturb_wholebody``).

Writes ``OUT/eval.json``
(every metric per perturbation with its sample counts, the protocol and the settings), prints
one table per set in the layout of the paper's tables 4, 5 and 7 (one column per perturbation,
one row per metric; the positional block, then the image / pose variants of figure 1) and, with
``--robustness``, saves ``OUT/robustness_<set>.png``: one bar group per perturbation, one bar
per metric, dashed lines at the "normal" values.

The options are declared in ``robosmplx_core.cli`` (which imports this module only when the
verb runs). Exit codes: 0 done, 2 unusable checkpoint, dataset or option.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Mapping, Optional, Sequence

import torch
from tqdm import tqdm

from training.robustness import NORMAL, Perturbation, ProtocolLevels, perturb, robustness_protocol, run_protocol

__all__ = ["METRIC_LABELS", "run", "evaluate_checkpoint", "wholebody_image_size", "format_table", "save_bar_chart"]

METRIC_LABELS: dict[str, str] = {
    "mpjpe_mm": "MPJPE", "pa_mpjpe_mm": "PA-MPJPE", "mpjpe_body_mm": "MPJPE body", "pa_mpjpe_body_mm": "PA-MPJPE body",
    "pve_mm": "PVE", "pa_pve_mm": "PA-PVE", "rmse3d_mm": "3DRMSE",
    "mpjpe_all_mm": "MPJPE all", "pa_mpjpe_all_mm": "PA-MPJPE all", "mpjpe_hands_mm": "MPJPE hands",
    "pa_mpjpe_hands_mm": "PA-MPJPE hands", "mpjpe_face_mm": "MPJPE face", "pa_mpjpe_face_mm": "PA-MPJPE face",
    "pve_all_mm": "PVE all", "pa_pve_all_mm": "PA-PVE all",
}  # fmt: skip
"""Row names of the printed table and legend of the chart (all values in mm)."""


def wholebody_image_size(checkpoint: Path, body_input_size: int, requested: Optional[int] = None) -> tuple[int, str]:
    """(side S of the full images a whole-body checkpoint is evaluated on, where it came from):
    ``requested`` (``--image-size``), else ``data.train.image_size`` of ``CHECKPOINT/train.yaml``
    (the trainer writes it beside every checkpoint), else ``2 * body_input_size``.

    Raises:
        ValueError: S smaller than the body crop (``body_input_size``), or a ``train.yaml`` that
            cannot be read or belongs to another stage (each says to pass ``--image-size``).
    """
    from training.config import load_train_config

    path = Path(checkpoint) / "train.yaml"
    if requested is not None:
        size, source = int(requested), "--image-size"
    elif path.is_file():
        try:
            cfg = load_train_config(path)
        except (ValueError, FileNotFoundError) as exc:
            raise ValueError(f"{path}: cannot read data.train.image_size ({exc}); fix that file or give the full "
                             "image size with --image-size") from None
        if cfg.stage != "wholebody":
            raise ValueError(f"{path} is the config of a {cfg.stage!r} run, not of the whole-body stage that wrote "
                             "this checkpoint; give the full image size with --image-size")
        size, source = int(cfg.data.train.image_size), f"data.train.image_size of {path}"
    else:
        size, source = 2 * body_input_size, f"2 x the body subnetwork's input size (no {path})"
    if size < body_input_size:
        raise ValueError(f"image size {size} px ({source}) is smaller than the body subnetwork's input "
                         f"({body_input_size} px), which the whole-body network crops from the full image; pass "
                         f"--image-size >= {body_input_size}, e.g. {2 * body_input_size}")
    return size, source


def evaluate_checkpoint(checkpoint: Path, data: Sequence[str], *, robustness: bool = False, batch_size: int = 16,
                        max_samples: Optional[int] = None, device: str = "cpu", model_dir: Optional[Path] = None,
                        progress: bool = True, levels: ProtocolLevels = ProtocolLevels(),
                        image_size: Optional[int] = None) -> dict:
    """Evaluate ``checkpoint`` on every ``data`` spec; returns the JSON-ready report.

    ``image_size``: whole-body checkpoints only, the full image side (:func:`wholebody_image_size`).

    Raises:
        ValueError / FileNotFoundError: bad spec (lists valid names), unusable checkpoint (the
            loader's message), a dataset of another part (a whole-body checkpoint reads body
            sets), ``image_size`` for a subnetwork or below the body crop, a missing dataset
            (the adapter's ``DatasetError``).
    """
    from robosmplx_core.body_model import BodyModel
    from robosmplx_core.nets.checkpoint import load_checkpoint
    from training.eval_data import EvalContext, build_source, check_part, iter_items, parse_data_spec, source_length
    from training.part_eval import PartEvaluator
    from training.wholebody_eval import WholeBodyEvaluator, perturb_wholebody

    if batch_size < 1 or (max_samples is not None and max_samples < 1):
        raise ValueError(f"--batch-size and --max-samples must be >= 1, got {batch_size} and {max_samples}")
    specs = [parse_data_spec(text) for text in data]
    ckpt = load_checkpoint(checkpoint, device=device)
    whole = ckpt.meta.family == "wholebody"
    if whole:
        part, input_size = "body", ckpt.network.body.input_size
        size, size_source = wholebody_image_size(checkpoint, input_size, image_size)
        network = "a whole-body network (it reads full body images)"
    else:
        if image_size is not None:
            raise ValueError(f"--image-size applies to whole-body checkpoints; {checkpoint} holds a {ckpt.meta.kind} "
                             f"network, evaluated on crops of its input size ({ckpt.network.input_size} px): drop "
                             "--image-size")
        part, input_size = ckpt.meta.part, ckpt.network.input_size
        size, size_source, network = input_size, "the network's input size", None
    for spec in specs:
        check_part(spec, part, network=network)
    body_model = BodyModel.load(model_dir, use_face_contour=True, device=device)
    evaluator = (WholeBodyEvaluator(network=ckpt.network, body_model=body_model) if whole
                 else PartEvaluator(network=ckpt.network, body_model=body_model))
    protocol = robustness_protocol(levels) if robustness else (NORMAL,)
    report: dict = {
        "checkpoint": str(checkpoint), "kind": ckpt.meta.kind, "part": part, "part_only": ckpt.meta.part_only,
        "input_size": input_size, "image_size": size, "image_size_source": size_source, "device": str(device),
        "batch_size": batch_size, "max_samples": max_samples,
        "body_model": str(body_model.model_file), "body_model_is_standin": body_model.is_standin,
        "robustness": robustness, "levels": dataclasses.asdict(levels) if robustness else None,
        "protocol": [dataclasses.asdict(p) for p in protocol], "metrics": list(evaluator.metric_names),
        "metric_aliases": getattr(evaluator, "aliases", {}), "unsupported_metrics": evaluator.unsupported,
        "units": "mm", "datasets": {},
    }
    ctx = EvalContext(part=part, input_size=size, body_model=body_model)
    sources = [build_source(spec, ctx) for spec in specs]  # every dataset error before the first long run
    for spec, source in zip(specs, sources):
        total = source_length(source, max_samples)
        with tqdm(total=total, desc=f"eval {spec.name}", unit="sample", disable=not progress) as bar:
            summaries = run_protocol(evaluator, iter_items(source, max_samples), protocol, batch_size=batch_size,
                                     on_batch=bar.update, perturb_item=perturb_wholebody if whole else perturb)
        key = spec.name if spec.name not in report["datasets"] else f"{spec.name}#{len(report['datasets']) + 1}"
        report["datasets"][key] = {"spec": spec.text, "samples": total, "skipped_entries": source.skipped(),
                                   "results": {name: s.as_dict() for name, s in summaries.items()}}
    return report


def _cell(entry: Optional[Mapping]) -> str:
    mean = None if entry is None else entry["mean"]
    return "n/a" if mean is None else f"{mean:.2f}"


def format_table(results: Mapping[str, Mapping], protocol: Sequence[Perturbation], metrics: Sequence[str], *,
                 title: str) -> str:
    """The paper's layout: one column per perturbation, one row per metric (mm), the positional
    block (tables 4, 5, 7) and, when present, the image / pose block of figure 1 (with Normal
    repeated as its reference column). ``results``: perturbation name -> metric -> as_dict entry."""
    positional = [p for p in protocol if p.kind == "location"]
    variants = [p for p in protocol if p.kind != "location"]
    blocks = [("positional (tables 4, 5, 7)" if len(positional) > 1 else "evaluation", positional)]
    if variants:
        blocks.append(("image / pose variants (figure 1)", [p for p in protocol if p.is_identity] + variants))
    width = max(len("(mm)"), *(len(METRIC_LABELS.get(m, m)) for m in metrics))
    lines = [title]
    for name, columns in blocks:
        widths = [max(len(p.label), 7) for p in columns]
        header = f"{'(mm)':<{width}}  " + "  ".join(f"{p.label:>{w}}" for p, w in zip(columns, widths))
        lines += [f"{name}:", header, "-" * len(header)]
        for m in metrics:
            cells = "  ".join(f"{_cell(results.get(p.name, {}).get(m)):>{w}}" for p, w in zip(columns, widths))
            lines.append(f"{METRIC_LABELS.get(m, m):<{width}}  {cells}")
    return "\n".join(lines)


def save_bar_chart(path: Path, results: Mapping[str, Mapping], protocol: Sequence[Perturbation],
                   metrics: Sequence[str], *, title: str) -> Path:
    """A PNG with one bar group per perturbation (protocol order), one bar per metric that has
    values, and a dashed line at each metric's "normal" value (as figure 1). Agg backend, no
    display needed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = [m for m in metrics if any(_cell(results.get(p.name, {}).get(m)) != "n/a" for p in protocol)]
    fig = Figure(figsize=(max(6.0, 0.9 * len(protocol) + 2.0), 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(1, len(shown))
    for k, m in enumerate(shown):
        values = [results.get(p.name, {}).get(m, {}).get("mean") for p in protocol]
        xs = [i + (k - (len(shown) - 1) / 2) * width for i in range(len(protocol))]
        bars = ax.bar(xs, [float("nan") if v is None else v for v in values], width, label=METRIC_LABELS.get(m, m))
        normal = results.get(NORMAL.name, {}).get(m, {}).get("mean")
        if normal is not None:
            ax.axhline(normal, color=bars.patches[0].get_facecolor(), linestyle="--", linewidth=1.0)
    ax.set_xticks(range(len(protocol)))
    ax.set_xticklabels([p.label for p in protocol], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("error (mm)")
    ax.set_title(title, fontsize=10)
    if shown:
        top = max((p.get_height() for p in ax.patches if p.get_height() == p.get_height()), default=1.0)
        ax.set_ylim(0.0, 1.25 * top)  # room for the legend above the bars
        ax.legend(fontsize=8, ncol=min(len(shown), 6), loc="upper center")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def run(args: argparse.Namespace) -> int:
    """``robosmplx eval``: evaluate, print the tables, write the JSON (and PNGs); exit code 0."""
    report = evaluate_checkpoint(args.checkpoint, args.data, robustness=args.robustness, batch_size=args.batch_size,
                                 max_samples=args.max_samples, device=args.device, model_dir=args.model_dir,
                                 progress=not args.quiet, image_size=getattr(args, "image_size", None))
    protocol = [Perturbation(**p) for p in report["protocol"]]
    args.out.mkdir(parents=True, exist_ok=True)
    if report["kind"] == "wholebody":
        print(f"whole-body network on {report['image_size']} px images ({report['image_size_source']}), body crop "
              f"{report['input_size']} px; {', '.join(f'{a} = {n}' for a, n in report['metric_aliases'].items())}")
    for key, entry in report["datasets"].items():
        title = (f"{key}: {entry['samples']} samples, {report['kind']} checkpoint {report['checkpoint']} "
                 f"({report['image_size']} px), errors in mm")
        print(format_table(entry["results"], protocol, report["metrics"], title=title))
        if args.robustness:
            png = save_bar_chart(args.out / f"robustness_{key.replace('#', '_')}.png", entry["results"], protocol,
                                 report["metrics"], title=title)
            entry["chart"] = str(png)
            print(f"chart: {png}")
    for name, why in report["unsupported_metrics"].items():
        print(f"not reported: {METRIC_LABELS.get(name, name)}: {why}")
    path = args.out / "eval.json"
    path.write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    print(f"eval: wrote {path}")
    return 0


def _json_default(value: object) -> object:
    if isinstance(value, (Path, torch.device)):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
