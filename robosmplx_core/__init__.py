"""robosmplx core: everything that is not ROS (never imports rclpy, messages or training code).

Glossary used in every docstring of this package:
    B batch, N persons/detections, J joints, V vertices (10475 for SMPL-X), F faces,
    H x W image height and width in pixels.
Conventions: angles in radians; lengths in metres; rotation matrices act on column vectors
(x' = R @ x); the camera frame is the OpenCV / ROS optical frame (x right, y down, z forward);
boxes are named by their format (``boxes_xyxy``: x1, y1, x2, y2 in pixels).
"""

__version__ = "0.1.0"
