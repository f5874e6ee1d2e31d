"""Learning check: does the Body subnetwork learn on this CPU? (issue 5, item 9)

    .venv/bin/python benchmarks/learning_check.py --minutes 15 --json out/benchmarks/learning_check.json
    .venv/bin/python benchmarks/learning_check.py --ablation --minutes 5 --json out/benchmarks/ablation.json

Main mode: renders a training pool (synthetic seed 0) and a held-out set from a different
seed, starts the Body subnetwork's regressor at the pool's mean pose (HMR's mean-parameter
initialisation: an untrained network scores exactly the mean-pose baseline), trains it with
every RoboSMPLX module (Localization Module, L_con with positives, L_proj) for ``--minutes`` of
wall time, and evaluates MPJPE, PA-MPJPE and PVE (mm) of the trained network and of the
mean-pose baseline, on the held-out set as rendered and under the paper's positional shifts
(translate x/y +-0.2, scale 1.3 / 0.7). Goal (issue 5): held-out MPJPE <= 0.5x the mean-pose
baseline.

``--ablation`` trains four variants for ``--minutes`` each on the same pool (table 11 of the
paper): baseline regressor (no Localization Module, no L_con, no L_proj) / + Localization
Module (LF, soft-argmax joints, part maps, L_segm) / + L_con with positives / + L_proj, and
prints a table of the same metrics, averaged over the normal and shifted held-out sets.

The network (defaults): the "small" dense backbone, joint volumes of depth 8, and three
additions to the paper. (1) The 2D keypoint stage (``nets.keypoints``): heatmaps at 1/4 of the
crop for the 25 body keypoints, trained alone for the first ``--keypoint-stage`` of the budget
and then frozen while the rest of the network trains (``training.loop``). (2) The facing branch
(``nets.facing``, ``--facing``): a small CNN on a head patch placed by the keypoints says whether
the body faces the camera (trained in both stages); the left/right keypoint pairs are decoded in
image order and named by it (``nets.sides``). (3) The keypoint lifter (``nets.lifter``,
``--lifter``): an MLP from those keypoints and the facing to the body's parameters, added to the
regressor's output and trained in the first stage on ``--lifter-poses`` unrendered samples
(``data.pose_bank``; drawn before training, reported beside the rendering time, not counted in
the budget), on its joints and (``--lifter-rotation``) its global orientation.
``--keypoint-joints 0 --backbone light --depth 16`` is the paper's network as sessions 1-6
measured it (without keypoints there is no facing branch nor lifter);
``--no-lifter`` and ``--no-facing`` drop (3) and (2)+(3). The keypoint line also prints how
often the facing was right.

Two references show what a result is made of: each trained network's own mean prediction
scored as a constant ("the image is worth N mm": how much of its result depends on the image at
all), and the mean body pose given each sample's true global orientation (an oracle: what the
orientation alone is worth). The table's ``orient`` column is the mean global-orientation
error in degrees.

Training runs under bfloat16 autocast where the device has native bfloat16 arithmetic
(``--precision auto``, since session 11; ``--precision fp32`` is the float32 run of earlier
sessions); evaluation is float32. Rendering time is reported separately and not counted in the
budget. Prints and writes JSON.
``--device cuda`` trains and evaluates on a GPU (batches are still drawn and augmented on the
CPU): a diagnosis of how the result scales with compute; the issue's goal is the CPU run.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import time
from pathlib import Path

import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.data.pose_bank import sample_pose_bank
from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset
from robosmplx_core.losses import LossWeights
from robosmplx_core.nets.checkpoint import save_checkpoint
from robosmplx_core.nets.config import SubnetConfig
from robosmplx_core.nets.specs import BODY_SPEC
from robosmplx_core.nets.subnet import PartSubnetwork
from training.evaluate import SHIFTS, MeanPose, evaluate, keypoint_errors_px, mean_pose, mean_prediction, shifted
from training.loop import LoopConfig, bf16_supported, render_pool, train_for
from training.objective import BodyObjective, ObjectiveConfig

NO_PARTS = dict(bm_expression=0.0, boxes=0.0)
VARIANTS: dict[str, tuple[bool, ObjectiveConfig]] = {  # name -> (Localization Module, objective)
    "baseline": (False, ObjectiveConfig(weights=LossWeights(segmentation=0.0, projection=0.0, contrastive=0.0,
                                                            **NO_PARTS), volume_keypoints=0.0)),
    "+localization": (True, ObjectiveConfig(weights=LossWeights(projection=0.0, contrastive=0.0, **NO_PARTS))),
    "+L_con (positives)": (True, ObjectiveConfig(weights=LossWeights(projection=0.0, **NO_PARTS))),
    "+L_proj (RoboSMPLX)": (True, ObjectiveConfig(weights=LossWeights(**NO_PARTS))),
}


def net_config(args: argparse.Namespace, *, use_localization: bool) -> SubnetConfig:
    facing = args.facing and args.keypoint_joints >= 25  # the branch reads the head keypoints
    return SubnetConfig(backbone=args.backbone, feature_channels=args.channels, hidden_channels=args.channels,
                        segm_channels=args.channels // 2, mlp_channels=2 * args.channels, heatmap_depth=args.depth,
                        input_size=args.image_size, use_localization=use_localization,
                        keypoint_joints=args.keypoint_joints, facing_head=facing, lifter=facing and args.lifter)


def evaluate_all(objective: BodyObjective, test: list, *, net=None, baseline=None) -> dict[str, dict]:
    return {name: evaluate(objective, shifted(test, name), net=net, baseline=baseline) for name in SHIFTS}


def run_variant(args, name: str, pool: list, test: list, model: BodyModel, start: MeanPose, bank=None) -> dict:
    """Train variant ``name`` from ``start`` (the pool's mean pose) and score it."""
    use_loc, objective_cfg = VARIANTS[name]
    torch.manual_seed(args.seed)
    config = net_config(args, use_localization=use_loc)
    net = PartSubnetwork.from_config(BODY_SPEC, config)
    # HMR-style: the regressor starts at the training set's mean
    net.set_mean(rotmats=start.rotations, betas=start.betas)
    loss_model = model if args.device == "cpu" else copy.deepcopy(model)
    objective_cfg = dataclasses.replace(objective_cfg, render_size=args.image_size // 4)
    if args.volume_weight is not None and use_loc:
        objective_cfg = dataclasses.replace(objective_cfg, volume_keypoints=args.volume_weight)
    objective = BodyObjective(body_model=loss_model, config=objective_cfg)
    net, objective = net.to(args.device), objective.to(args.device)
    history = train_for(net, objective, pool, seconds=args.minutes * 60.0, pose_bank=bank,
                        config=LoopConfig(pairs_per_step=args.pairs, lr=args.lr, seed=args.seed,
                                          augment=not args.no_augment,
                                          keypoint_stage=args.keypoint_stage if args.keypoint_joints else 0.0,
                                          lifter_rotation=args.lifter_rotation, precision=args.precision))
    tail = history.losses[-max(1, len(history.losses) // 10):]
    if args.save is not None:  # a body-subnetwork checkpoint (robosmplx_core.nets.checkpoint)
        save_checkpoint(args.save / name.strip("+").split()[0], network=net.cpu(), config=config, part="body")
        net.to(args.device)
    return {"variant": name, "steps": history.steps, "keypoint_stage_steps": history.keypoint_steps,
            "train_seconds": round(history.seconds, 1),
            "images_seen": history.steps * 2 * args.pairs, "loss_first": round(history.losses[0], 4),
            "loss_last_10pct_mean": round(statistics.fmean(tail), 4),
            "parameters_m": round(sum(p.numel() for p in net.parameters()) / 1e6, 3),
            "train_pool_metrics": evaluate(objective, pool[:len(test)], net=net),
            "metrics": evaluate_all(objective, test, net=net),
            # the network's own mean prediction for every image: what it scores without looking
            "as_constant": evaluate(objective, test, baseline=mean_prediction(net, test)),
            "keypoints_2d": keypoint_errors_px(net, test) if net.keypoint_head is not None else None}


def _mean_over_shifts(metrics: dict[str, dict], key: str) -> float:
    return statistics.fmean(m[key] for m in metrics.values())


def table(rows: list[tuple[str, dict]]) -> str:
    head = (f"{'':24s} {'MPJPE':>8s} {'PA-MPJPE':>9s} {'PVE':>8s} {'orient':>7s} | {'MPJPE shifted':>13s} "
            f"{'PVE shifted':>11s}")
    lines = [head, "-" * len(head)]
    for name, metrics in rows:
        normal = metrics["normal"]
        shifted_only = {k: v for k, v in metrics.items() if k != "normal"}
        lines.append(f"{name:24s} {normal['mpjpe_mm']:8.1f} {normal['pa_mpjpe_mm']:9.1f} {normal['pve_mm']:8.1f} "
                     f"{normal['orient_deg']:7.1f} | "
                     f"{_mean_over_shifts(shifted_only, 'mpjpe_mm'):13.1f} {_mean_over_shifts(shifted_only, 'pve_mm'):11.1f}")
    return "\n".join(lines) + ("\n(mm; orient = mean global-orientation error in degrees; 'shifted' = mean over "
                               "translate x/y +-0.2 and scale 1.3 / 0.7)")


def build_parser() -> argparse.ArgumentParser:
    """The command line (its defaults are the check's network and loop; ``train_step_speed`` reads them)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=15.0, help="training wall time (per variant with --ablation)")
    ap.add_argument("--ablation", action="store_true", help="train the four table-11 variants")
    ap.add_argument("--json", type=Path, default=Path("out/benchmarks/learning_check.json"))
    ap.add_argument("--train-samples", type=int, default=3000, help="training pool size (rendered once)")
    ap.add_argument("--test-samples", type=int, default=200)
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--backbone", default="small")
    ap.add_argument("--channels", type=int, default=128)
    ap.add_argument("--depth", type=int, default=8, help="joint volume depth D")
    ap.add_argument("--keypoint-joints", type=int, default=25,
                    help="2D keypoint stage for the first N body joints (0 = the paper's network alone)")
    ap.add_argument("--keypoint-stage", type=float, default=0.65,
                    help="fraction of the budget that trains the 2D keypoint stage first")
    ap.add_argument("--facing", action=argparse.BooleanOptionalAction, default=True,
                    help="the facing branch (nets.facing: a head-patch CNN saying whether the body faces the camera)")
    ap.add_argument("--lifter", action=argparse.BooleanOptionalAction, default=True,
                    help="the keypoint lifter (nets.lifter; needs --facing): an MLP from the named keypoints to the "
                         "body's parameters, trained in the first stage on the ground truth of many crops per step")
    ap.add_argument("--lifter-poses", type=int, default=20000,
                    help="with --lifter: unrendered samples (data.pose_bank; seed 0, after the pool's indices) the "
                         "lifter trains on; 0 = the ground truth of the rendered crops")
    ap.add_argument("--lifter-rotation", type=float, default=0.1,
                    help="weight of an L1 term on the lifter's global orientation in the first stage (0 = off: "
                         "the joints alone leave the pelvis's turn to the hips and spine)")
    ap.add_argument("--pairs", type=int, default=8, help="N anchors per step (2N images)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                    help="training forward passes in float32 or under bfloat16 autocast (evaluation is always "
                         "float32); auto = bf16 where the device has native bfloat16 arithmetic")
    ap.add_argument("--volume-weight", type=float, default=None,
                    help="weight of the Localization Module's joint-volume keypoint term (default: ObjectiveConfig's)")
    ap.add_argument("--no-augment", action="store_true", help="train on the rendered crops as they are")
    ap.add_argument("--variant", choices=list(VARIANTS), default="+L_proj (RoboSMPLX)",
                    help="main mode: which variant to train (default: every module)")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--workers", type=int, default=2, help="rendering processes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu",
                    help="where the network trains and is evaluated (cuda: a diagnosis run; issue 5's goal is on the CPU)")
    ap.add_argument("--save", type=Path, default=None, help="save each trained network under this folder")
    return ap


def main() -> None:
    ap = build_parser()
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error(f"--device {args.device}: this torch build sees no CUDA device; use --device cpu")
    torch.set_num_threads(args.threads)
    if args.precision == "auto":
        args.precision = "bf16" if bf16_supported(args.device) else "fp32"
    elif args.precision == "bf16" and not bf16_supported(args.device):
        print(f"warning: --precision bf16 on {args.device}, which has no native bfloat16 arithmetic: it will be "
              "slower than fp32, not faster")
    model = BodyModel.load(use_face_contour=True)
    t0 = time.perf_counter()
    make = lambda seed, n: render_pool(SyntheticDataset(config=SyntheticConfig(  # noqa: E731
        seed=seed, image_size=args.image_size), model=model), n, workers=args.workers, desc=f"render seed {seed}")
    pool, test = make(0, args.train_samples), make(1000, args.test_samples)
    render_s = time.perf_counter() - t0
    bank, bank_s = None, 0.0
    if net_config(args, use_localization=True).lifter and args.lifter_poses:  # the pool's distribution, other indices, no images
        t0 = time.perf_counter()
        bank = sample_pose_bank(SyntheticDataset(config=SyntheticConfig(seed=0, image_size=args.image_size), model=model),
                                range(args.train_samples, args.train_samples + args.lifter_poses))
        bank_s = time.perf_counter() - t0
    base_objective = BodyObjective(body_model=model)
    pool_mean = mean_pose(pool)
    baseline = evaluate_all(base_objective, test, baseline=pool_mean)
    # oracle: the mean body pose with each sample's true global orientation (what the right
    # orientation alone is worth; the goal needs the body pose too below this)
    oracle = evaluate(base_objective, test, baseline=pool_mean, true_global_orient=True)
    names = list(VARIANTS) if args.ablation else [args.variant]
    runs = [run_variant(args, name, pool, test, model, pool_mean, bank) for name in names]
    rows = [("mean-pose baseline", baseline)] + [(r["variant"], r["metrics"]) for r in runs]
    ratio = runs[-1]["metrics"]["normal"]["mpjpe_mm"] / baseline["normal"]["mpjpe_mm"]
    report = {"benchmark": "learning_check", "mode": "ablation" if args.ablation else "main",
              "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "json"}, "render_seconds": round(render_s, 1),
              "pose_bank_seconds": round(bank_s, 1),
              "mean_pose_baseline": baseline, "mean_pose_with_true_orientation": oracle, "runs": runs,
              "mpjpe_ratio_vs_mean_pose": round(ratio, 3), "goal": "held-out MPJPE <= 0.5x the mean-pose baseline",
              "goal_met": ratio <= 0.5}
    print(table(rows))
    for r in runs:  # how much of each result depends on the image at all
        const = r["as_constant"]["mpjpe_mm"]
        print(f"{r['variant']}: its own mean prediction as a constant scores MPJPE {const:.1f} "
              f"(the image is worth {const - r['metrics']['normal']['mpjpe_mm']:.1f} mm)")
        if r["keypoints_2d"] is not None:
            kp = r["keypoints_2d"]
            print(f"{r['variant']}: 2D keypoint stage ({r['keypoint_stage_steps']} of {r['steps']} steps), held-out "
                  f"error median {kp['median_px']:.1f} px, mean {kp['mean_px']:.1f} px ({args.image_size} px crops); "
                  f"left/right pairs closer to the swapped truth: {kp['left_right_swapped']:.2f} (0.5 = sides "
                  "not told apart)")
            if "facing_right" in kp:
                print(f"{r['variant']}: facing branch right for {kp['facing_right']:.1%} of the held-out crops "
                      f"({kp['facing_right_towards_away']:.1%} of those facing within 60 degrees of towards/away)")
    print(f"mean pose with each sample's true global orientation (oracle): MPJPE {oracle['mpjpe_mm']:.1f} "
          f"({oracle['mpjpe_mm'] / baseline['normal']['mpjpe_mm']:.3f}x the baseline)")
    print(f"held-out MPJPE / mean-pose baseline: {ratio:.3f} (goal <= 0.5); rendering {render_s:.0f} s"
          + (f", pose bank ({len(bank)} unrendered samples) {bank_s:.0f} s" if bank is not None else ""))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
