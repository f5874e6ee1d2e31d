"""Geometry as plain functions on tensors: rotations, projection, crop cameras, boxes.

Conventions (stated again at the top of each module): radians; rotation matrices act on column
vectors; quaternions in xyzw order; 6D rotation = first two columns of R; camera frame =
OpenCV / ROS optical (x right, y down, z forward); boxes named by format (``boxes_xyxy``).
"""

from robosmplx_core.geometry.boxes import (
    box_area,
    box_cxcywh_to_xywh,
    box_cxcywh_to_xyxy,
    box_iou,
    box_xywh_to_cxcywh,
    box_xywh_to_xyxy,
    box_xyxy_to_cxcywh,
    box_xyxy_to_xywh,
    clip_boxes,
    expand_box_to_square,
)
from robosmplx_core.geometry.camera import (
    crop_cam_to_full_transl,
    crop_intrinsics,
    full_transl_to_crop_cam,
)
from robosmplx_core.geometry.projection import (
    DEFAULT_FOV_DEG,
    DEPTH_EPS_M,
    default_intrinsics,
    focal_from_fov,
    intrinsics_from_fov,
    perspective_projection,
    weak_perspective_to_translation,
)
from robosmplx_core.geometry.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    geodesic_angle,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rot6d,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    rot6d_to_matrix,
)

__all__ = [
    "DEFAULT_FOV_DEG",
    "DEPTH_EPS_M",
    "axis_angle_to_matrix",
    "axis_angle_to_quaternion",
    "box_area",
    "box_cxcywh_to_xywh",
    "box_cxcywh_to_xyxy",
    "box_iou",
    "box_xywh_to_cxcywh",
    "box_xywh_to_xyxy",
    "box_xyxy_to_cxcywh",
    "box_xyxy_to_xywh",
    "clip_boxes",
    "crop_cam_to_full_transl",
    "crop_intrinsics",
    "default_intrinsics",
    "expand_box_to_square",
    "focal_from_fov",
    "full_transl_to_crop_cam",
    "geodesic_angle",
    "intrinsics_from_fov",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "matrix_to_rot6d",
    "perspective_projection",
    "quaternion_to_axis_angle",
    "quaternion_to_matrix",
    "rot6d_to_matrix",
    "weak_perspective_to_translation",
]
