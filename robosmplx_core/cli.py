"""`robosmplx` command line: verbs mirror the library (see README).

    robosmplx predict SOURCE --out DIR [--backend landmarks] [--max-frames N] [--overlay mesh|skeleton|none] [key=value ...]
    robosmplx pseudolabel SOURCES... --out DIR [--every N] [--min-confidence C] [--max-frames N] [key=value ...]
    robosmplx export-bvh DIR/estimates.npz --track ID --out x.bvh [key=value ...]
    robosmplx demo [--out DIR] [--config FILE] [key=value ...]
    robosmplx standin DIR
    robosmplx model-info [--config FILE] [key=value ...]
    robosmplx train CONFIG [--quiet] [key=value ...]      (= python -m training.train; torchrun for DDP)
    robosmplx eval CHECKPOINT --data NAME:PATH [--data ...] [--robustness] [--out DIR]  (training/eval_cli.py)

Exit codes: 0 success, 2 unusable input or configuration (with a message saying what to fix).
"""

from __future__ import annotations

import os

# numpy's OpenBLAS wakes a spinning second thread even for 3x3 solves, which steals the other
# core from MediaPipe and torch; set before numpy loads (entry point only, not in libraries).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from robosmplx_core.config import BACKENDS, load_config  # noqa: E402


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, help="YAML config file (see config/)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. body_model.model_dir=~/smplx body_model.num_betas=16")


def _cmd_demo(args: argparse.Namespace) -> int:
    from robosmplx_core.demo import run_demo
    from robosmplx_core.threads import use_pipeline_threads

    use_pipeline_threads()
    cfg = load_config(args.config, args.overrides)
    run_demo(cfg, args.out)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from robosmplx_core.predict import run_predict
    from robosmplx_core.threads import use_pipeline_threads

    use_pipeline_threads()
    overrides = list(args.overrides) + ([f"pipeline.backend={args.backend}"] if args.backend else [])
    cfg = load_config(args.config, overrides)
    summary = run_predict(args.source, args.out, cfg, max_frames=args.max_frames, overlay=args.overlay,
                          progress=not args.quiet)
    print(f"predict: {summary['frames']} frames ({summary['frames_skipped']} skipped), "
          f"{summary['unique_tracks']} tracks, pipeline {summary['pipeline_fps']} fps -> {args.out}/")
    return 0


def _cmd_pseudolabel(args: argparse.Namespace) -> int:
    from robosmplx_core.data.pseudolabel import PseudoLabelSettings, run_pseudolabel, split_sources
    from robosmplx_core.threads import use_pipeline_threads

    use_pipeline_threads()
    sources, overrides = split_sources(args.sources)  # key=value may sit among the sources
    cfg = load_config(args.config, list(args.overrides) + overrides)
    settings = PseudoLabelSettings(every=args.every, min_confidence=args.min_confidence, max_frames=args.max_frames,
                                   image_topic=args.image_topic)
    summary = run_pseudolabel(sources, args.out, cfg, settings=settings, progress=not args.quiet)
    print(summary.describe(args.out))
    return 0


def _cmd_export_bvh(args: argparse.Namespace) -> int:
    from robosmplx_core.body_model import BodyModel
    from robosmplx_core.export.bvh import export_bvh_from_npz

    cfg = load_config(args.config, args.overrides)
    path = export_bvh_from_npz(args.estimates, args.track, args.out, BodyModel.from_config(cfg.body_model),
                               fps=args.fps)
    print(f"export-bvh: wrote {path}")
    return 0


def _cmd_standin(args: argparse.Namespace) -> int:
    from robosmplx_core.body_model.standin import write_standin_model

    t0 = time.perf_counter()
    path = write_standin_model(args.dir)
    print(f"standin: wrote {path} in {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_model_info(args: argparse.Namespace) -> int:
    from robosmplx_core.body_model import BodyModel

    cfg = load_config(args.config, args.overrides)
    model = BodyModel.from_config(cfg.body_model)
    with_joints = model.rest_joints()[0]
    height = float(model.layer.v_template[:, 1].max() - model.layer.v_template[:, 1].min())
    print(f"model file: {model.model_file}{' (procedural stand-in)' if model.is_standin else ''}")
    print(f"vertices: {model.layer.v_template.shape[0]}, faces: {model.faces.shape[0]}, "
          f"joints out: {model.num_joints}, betas: {model.num_betas}, expression: {model.num_expression}")
    print(f"rest-pose height: {height:.3f} m, pelvis at {with_joints[0].tolist()}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    # imported here, not at module level: robosmplx_core never imports training/ at import time
    from training.train import run

    return run(args.config, args.overrides, progress=not args.quiet)


def _cmd_eval(args: argparse.Namespace) -> int:
    # imported here, not at module level: robosmplx_core never imports training/ at import time
    from training.eval_cli import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per verb."""
    ap = argparse.ArgumentParser(prog="robosmplx", description="Real-time whole-body SMPL-X motion capture")
    sub = ap.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("demo", help="run the bundled default job and write its outputs")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    _add_config_args(p)
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("predict", help="tracked whole-body SMPL-X from a video, image, image folder or webcam")
    p.add_argument("source", help="video file, image, folder of images, or webcam index (0, 1, ...)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--backend", choices=list(BACKENDS), default=None, help="estimator backend (pipeline.backend)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after N input frames")
    p.add_argument("--overlay", choices=["mesh", "skeleton", "none"], default="mesh", help="overlay.mp4 drawing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_config_args(p)
    p.set_defaults(func=_cmd_predict)
    p = sub.add_parser("pseudolabel", help="pseudo-labels (images + SMPL-X fits + 2D landmarks) from your own "
                                           "videos, image folders or rosbag2 bags, for `robosmplx train`")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="video file, image, folder of images or rosbag2 bag")
    p.add_argument("--out", type=Path, required=True, help="output dataset folder (must not hold a run already)")
    p.add_argument("--every", type=int, default=1, help="keep every N-th input frame (default 1)")
    p.add_argument("--min-confidence", type=float, default=0.5, help="drop persons whose body confidence is lower "
                                                                     "(default 0.5)")
    p.add_argument("--max-frames", type=int, default=None, help="read at most N input frames per source")
    p.add_argument("--image-topic", default=None, help="bags: image topic (default: the bag's only one)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_config_args(p)
    p.set_defaults(func=_cmd_pseudolabel)
    p = sub.add_parser("export-bvh", help="write one track of estimates.npz as a BVH animation (Blender)")
    p.add_argument("estimates", type=Path, help="estimates.npz written by `robosmplx predict`")
    p.add_argument("--track", type=int, required=True, help="track id")
    p.add_argument("--out", type=Path, required=True, help="output .bvh file")
    p.add_argument("--fps", type=float, default=None, help="frame rate (default: from the stamps)")
    _add_config_args(p)
    p.set_defaults(func=_cmd_export_bvh)
    p = sub.add_parser("standin", help="write the procedural stand-in SMPL-X model into DIR/smplx/")
    p.add_argument("dir", type=Path)
    p.set_defaults(func=_cmd_standin)
    p = sub.add_parser("model-info", help="load the configured body model and describe it")
    _add_config_args(p)
    p.set_defaults(func=_cmd_model_info)
    p = sub.add_parser("train", help="train a network (training/configs/*.yaml); torchrun -m training.train for DDP")
    p.add_argument("config", type=Path, help="training config YAML, e.g. training/configs/synthetic_body.yaml")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. steps=100 out_dir=out/x")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)
    p = sub.add_parser("eval", help="errors of a subnetwork or whole-body checkpoint on evaluation sets; "
                                    "--robustness: the paper's protocol (tables 4, 5, 7, figure 1)")
    p.add_argument("checkpoint", type=Path, help="checkpoint folder of a body, hand or face subnetwork or of a "
                                                 "whole-body network")
    p.add_argument("--data", action="append", required=True, metavar="NAME:PATH",
                   help="evaluation set, repeatable: synthetic[:seed=1000,n=200], ehf:DIR, agora:DIR, 3dpw:DIR, "
                        "freihand:DIR, stirling:DIR, h36m:DIR (see training/eval_data.py)")
    p.add_argument("--robustness", action="store_true", help="every perturbation of the paper's robustness protocol")
    p.add_argument("--image-size", type=int, default=None, metavar="S",
                   help="whole-body checkpoints: side of the full images (default: data.train.image_size of the "
                        "checkpoint's train.yaml, else 2 x the body subnetwork's input size)")
    p.add_argument("--out", type=Path, default=Path("out/eval"), help="output folder for eval.json and charts "
                                                                      "(default out/eval)")
    p.add_argument("--batch-size", type=int, default=16, help="crops per forward pass (default 16)")
    p.add_argument("--max-samples", type=int, default=None, help="evaluate the first N samples of each set")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0 (default cpu)")
    p.add_argument("--model-dir", type=Path, default=None,
                   help="SMPL-X model folder (default $ROBOSMPLX_MODEL_DIR, else the procedural stand-in)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_eval)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `robosmplx` console script."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may come after options (argparse stops filling positionals there)
    stray = [x for x in extra if x.startswith("-") or "=" not in x or not hasattr(args, "overrides")]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.overrides = list(args.overrides) + extra
    try:
        return int(args.func(args))
    except (ValueError, FileNotFoundError) as exc:
        print(f"robosmplx {args.verb}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
