"""Entry point: ``python -m training.train CONFIG [key=value ...]`` (= ``robosmplx train``).

    robosmplx train training/configs/synthetic_body.yaml steps=200 out_dir=out/train/synthetic
    torchrun --nproc_per_node 4 -m training.train training/configs/body.yaml
    robosmplx train training/configs/synthetic_body.yaml resume=out/train/synthetic/checkpoints/step_000200

``robosmplx train`` (``robosmplx_core.cli``) imports this module only when the verb runs, so
``robosmplx_core`` never imports ``training`` at import time. Multi-process runs start this
module under ``torchrun`` (``-m training.train``). Exit codes: 0 done, 2 unusable config or
checkpoint (the message says what to fix).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # entry point only: see robosmplx_core.cli


def run(config: str | Path, overrides: Sequence[str] = (), *, progress: bool = True) -> int:
    """Load the config, train, print where the checkpoints are; returns the exit code."""
    from training.config import load_train_config
    from training.trainer import train

    cfg = load_train_config(config, overrides)
    result = train(cfg, progress=progress)
    if int(os.environ.get("RANK", "0")) == 0:
        tail = f", best {result.best['mpjpe_mm']:.1f} mm at step {result.best['step']}" if result.best else ""
        where = result.last_checkpoint or "no new checkpoint"
        print(f"train: {result.steps} steps -> {where}{tail}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m training.train CONFIG [key=value ...] [--quiet]``."""
    ap = argparse.ArgumentParser(prog="python -m training.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", type=Path, help="training config YAML (training/configs/)")
    ap.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. steps=100")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    try:
        return run(args.config, args.overrides, progress=not args.quiet)
    except (ValueError, FileNotFoundError) as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
