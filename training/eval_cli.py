"""``robosmplx eval CHECKPOINT --data NAME:PATH [--robustness]``: errors of a subnetwork checkpoint.

    robosmplx eval out/lc/L_proj --data synthetic:seed=1000,n=200 --robustness --out out/eval
    robosmplx eval ckpt/hand --data freihand:/data/FreiHAND --max-samples 500

For each ``--data`` set (``training.eval_data``), the checkpoint's subnetwork is evaluated
(``training.part_eval``) on the crops as they are ("normal") or, with ``--robustness``, under
every perturbation of ``training.robustness.robustness_protocol``. Writes ``OUT/eval.json``
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

from training.robustness import NORMAL, Perturbation, ProtocolLevels, robustness_protocol, run_protocol

__all__ = ["METRIC_LABELS", "run", "evaluate_checkpoint", "format_table", "save_bar_chart"]

METRIC_LABELS: dict[str, str] = {
    "mpjpe_mm": "MPJPE", "pa_mpjpe_mm": "PA-MPJPE", "mpjpe_body_mm": "MPJPE body", "pa_mpjpe_body_mm": "PA-MPJPE body",
    "pve_mm": "PVE", "pa_pve_mm": "PA-PVE", "rmse3d_mm": "3DRMSE",
}  # fmt: skip
"""Row names of the printed table and legend of the chart (all values in mm)."""


def evaluate_checkpoint(checkpoint: Path, data: Sequence[str], *, robustness: bool = False, batch_size: int = 16,
                        max_samples: Optional[int] = None, device: str = "cpu", model_dir: Optional[Path] = None,
                        progress: bool = True, levels: ProtocolLevels = ProtocolLevels()) -> dict:
    """Evaluate ``checkpoint`` on every ``data`` spec; returns the JSON-ready report.

    Raises:
        ValueError / FileNotFoundError: bad spec (lists valid names), unusable checkpoint (the
            loader's message), a whole-body checkpoint, a dataset of another part, a missing
            dataset (the adapter's ``DatasetError``).
    """
    from robosmplx_core.body_model import BodyModel
    from robosmplx_core.nets.checkpoint import load_checkpoint
    from training.eval_data import EvalContext, build_source, check_part, iter_items, parse_data_spec, source_length
    from training.part_eval import PartEvaluator

    if batch_size < 1 or (max_samples is not None and max_samples < 1):
        raise ValueError(f"--batch-size and --max-samples must be >= 1, got {batch_size} and {max_samples}")
    specs = [parse_data_spec(text) for text in data]
    ckpt = load_checkpoint(checkpoint, device=device)
    if ckpt.meta.family != "subnet":
        raise ValueError(f"checkpoint {checkpoint} is a {ckpt.meta.kind} network; robosmplx eval evaluates one "
                         "subnetwork (kind subnet:body / subnet:hand / subnet:face) on its crops, whole-body "
                         "networks need full images and are not supported yet")
    part, size = ckpt.meta.part, ckpt.network.input_size
    for spec in specs:
        check_part(spec, part)
    body_model = BodyModel.load(model_dir, use_face_contour=True, device=device)
    evaluator = PartEvaluator(network=ckpt.network, body_model=body_model)
    protocol = robustness_protocol(levels) if robustness else (NORMAL,)
    report: dict = {
        "checkpoint": str(checkpoint), "kind": ckpt.meta.kind, "part": part, "part_only": ckpt.meta.part_only,
        "input_size": size, "device": str(device), "batch_size": batch_size, "max_samples": max_samples,
        "body_model": str(body_model.model_file), "body_model_is_standin": body_model.is_standin,
        "robustness": robustness, "levels": dataclasses.asdict(levels) if robustness else None,
        "protocol": [dataclasses.asdict(p) for p in protocol], "metrics": list(evaluator.metric_names),
        "unsupported_metrics": evaluator.unsupported, "units": "mm", "datasets": {},
    }
    ctx = EvalContext(part=part, input_size=size, body_model=body_model)
    sources = [build_source(spec, ctx) for spec in specs]  # every dataset error before the first long run
    for spec, source in zip(specs, sources):
        total = source_length(source, max_samples)
        with tqdm(total=total, desc=f"eval {spec.name}", unit="sample", disable=not progress) as bar:
            summaries = run_protocol(evaluator, iter_items(source, max_samples), protocol, batch_size=batch_size,
                                     on_batch=bar.update)
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
                                 progress=not args.quiet)
    protocol = [Perturbation(**p) for p in report["protocol"]]
    args.out.mkdir(parents=True, exist_ok=True)
    for key, entry in report["datasets"].items():
        title = (f"{key}: {entry['samples']} samples, {report['kind']} checkpoint {report['checkpoint']} "
                 f"({report['input_size']} px), errors in mm")
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
