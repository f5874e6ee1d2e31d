"""Training losses of RoboSMPLX (paper sec. 4.1 eq. 1, sec. 4.3 eq. 2, sec. 4.4).

Terms: L_3D and L_2D (``keypoints``), L_BM (``params``), L_segm and L_proj (``segmentation``),
L_con (``contrastive``), L_box (``boxes``); ``total`` combines them with ``LossWeights``.

Package conventions: ``pred_*`` / ``gt_*`` argument names; metres for 3D; 2D losses in
normalised crop coordinates ``[-1, 1]``; masks / weights of 0 remove elements, and every masked
loss is a weighted mean (an empty or fully masked batch gives 0 with a gradient path); targets
are checked finite (``ValueError`` naming the field).

Glossary: B batch, J joints, R rotations, P parts, K part boxes, H x W image.
"""

from robosmplx_core.losses.boxes import box_loss
from robosmplx_core.losses.contrastive import (
    JOINT_SET_DISTANCES,
    contrastive_keypoint_loss,
    joint_set_distances,
)
from robosmplx_core.losses.inputs import LossPredictions, LossTargets
from robosmplx_core.losses.keypoints import (
    keypoints_2d_loss,
    keypoints_3d_loss,
    perspective_keypoints_2d_loss,
    pixels_to_normalized,
    weak_perspective_keypoints_2d_loss,
    weak_perspective_projection,
)
from robosmplx_core.losses.params import body_model_param_loss, coefficient_loss, rotation_loss
from robosmplx_core.losses.segmentation import (
    IGNORE_LABEL,
    part_segmentation_loss,
    projected_segmentation_loss,
    resize_labels,
    silhouette_loss,
)
from robosmplx_core.losses.total import (
    LossBreakdown,
    LossResult,
    LossWeights,
    TotalLoss,
    compute_losses,
)

__all__ = [
    "IGNORE_LABEL",
    "JOINT_SET_DISTANCES",
    "LossBreakdown",
    "LossPredictions",
    "LossResult",
    "LossTargets",
    "LossWeights",
    "TotalLoss",
    "body_model_param_loss",
    "box_loss",
    "coefficient_loss",
    "compute_losses",
    "contrastive_keypoint_loss",
    "joint_set_distances",
    "keypoints_2d_loss",
    "keypoints_3d_loss",
    "part_segmentation_loss",
    "perspective_keypoints_2d_loss",
    "pixels_to_normalized",
    "projected_segmentation_loss",
    "resize_labels",
    "rotation_loss",
    "silhouette_loss",
    "weak_perspective_keypoints_2d_loss",
    "weak_perspective_projection",
]
