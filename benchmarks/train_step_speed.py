"""Training speed of the learning check's network, float32 against bfloat16 autocast, JSON out.

    .venv/bin/python benchmarks/train_step_speed.py [--out FILE] [--seconds 40] [--repeats 3]

Runs ``training.loop.train_for`` on the learning check's default Body subnetwork (the small
trunk, joint volumes of depth 8, the 25-keypoint stage, the facing branch and the lifter;
8 pairs a step) for ``--seconds`` of wall time, half in each stage, with ``precision`` fp32 and
bf16 alternated ``--repeats`` times in one sitting, and reports steps per second of each stage
(median over the repeats) and their bf16 / fp32 ratio. The first steps (oneDNN builds its
kernels) are inside the budget, as in the check. It never fails on time; without native
bfloat16 arithmetic (``training.loop.bf16_supported``) it says so and bf16 will be slower.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
from pathlib import Path

import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.data.pose_bank import sample_pose_bank
from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset
from robosmplx_core.nets.specs import BODY_SPEC
from robosmplx_core.nets.subnet import PartSubnetwork
from training.loop import PRECISIONS, LoopConfig, bf16_supported, render_pool, train_for
from training.objective import BodyObjective

from learning_check import VARIANTS, build_parser, net_config  # benchmarks/ (this script's folder)


def steps_per_second(precision: str, seconds: float, pool: list, bank, model: BodyModel) -> tuple[float, float]:
    """(keypoint-stage, full-stage) steps per second of one ``train_for`` run of the learning
    check's default network, objective and loop (its command line's defaults)."""
    args = build_parser().parse_args([])
    use_localization, objective_cfg = VARIANTS[args.variant]
    torch.manual_seed(0)
    net = PartSubnetwork.from_config(BODY_SPEC, net_config(args, use_localization=use_localization))
    objective = BodyObjective(body_model=model, config=dataclasses.replace(objective_cfg,
                                                                            render_size=args.image_size // 4))
    history = train_for(net, objective, pool, seconds=seconds, pose_bank=bank, progress=False,
                        config=LoopConfig(pairs_per_step=args.pairs, lr=args.lr, keypoint_stage=0.5,
                                          lifter_rotation=args.lifter_rotation, precision=precision))
    return history.keypoint_steps / (seconds / 2), (history.steps - history.keypoint_steps) / (seconds / 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/benchmarks/train_step_speed.json"))
    ap.add_argument("--seconds", type=float, default=40.0, help="wall time of each run (half per stage)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    if args.seconds <= 0 or args.repeats < 1:
        ap.error(f"--seconds > 0 and --repeats >= 1 expected, got {args.seconds}, {args.repeats}")
    torch.set_num_threads(args.threads)
    native = bf16_supported("cpu")
    if not native:
        print("note: this CPU has no native bfloat16 arithmetic; bf16 will be slower than fp32")
    model = BodyModel.load(use_face_contour=True)
    size = build_parser().parse_args([]).image_size
    dataset = SyntheticDataset(config=SyntheticConfig(seed=0, image_size=size), model=model)
    pool = render_pool(dataset, 200, workers=2, desc="render")
    bank = sample_pose_bank(dataset, range(200, 1200))
    runs: dict[str, list[tuple[float, float]]] = {p: [] for p in PRECISIONS}
    for i in range(args.repeats):
        for precision in PRECISIONS:
            runs[precision].append(steps_per_second(precision, args.seconds, pool, bank, model))
            kp, full = runs[precision][-1]
            print(f"repeat {i + 1} {precision}: keypoint stage {kp:.2f} steps/s, full stage {full:.2f} steps/s")
    median = {p: [statistics.median(r[k] for r in runs[p]) for k in (0, 1)] for p in PRECISIONS}
    ratio = [median["bf16"][k] / median["fp32"][k] for k in (0, 1)]
    for p in PRECISIONS:
        print(f"{p}: keypoint stage {median[p][0]:.2f} steps/s, full stage {median[p][1]:.2f} steps/s (median)")
    print(f"bf16 / fp32: keypoint stage {ratio[0]:.2f}x, full stage {ratio[1]:.2f}x ({args.threads} threads)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "train_step_speed", "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__, "threads": args.threads, "native_bf16": native, "seconds": args.seconds,
        "runs_steps_per_second": {p: [list(map(lambda v: round(v, 3), r)) for r in runs[p]] for p in PRECISIONS},
        "median_steps_per_second": {p: {"keypoint_stage": round(median[p][0], 3), "full_stage": round(median[p][1], 3)}
                                    for p in PRECISIONS},
        "bf16_over_fp32": {"keypoint_stage": round(ratio[0], 3), "full_stage": round(ratio[1], 3)}}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
