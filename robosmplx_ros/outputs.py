"""Everything the node publishes for one processed image (publishers + per-body bookkeeping).

Topics (relative names resolve in the node's namespace; ``~`` is the node's private one):
    ~/persons                          robosmplx/msg/SMPLXPersonArray (every processed image)
    /humans/bodies/tracked             std_msgs/String, comma-separated ids (hri_msgs has no wheel)
  (<id> = skeleton.body_id(track_id) = "b<track_id>": ROS name tokens cannot start with a digit)
    /humans/bodies/<id>/joint_states   sensor_msgs/JointState (162 DoFs, see skeleton.py)
    /humans/bodies/<id>/urdf           std_msgs/String URDF, transient-local (latched)
    /tf                                tf2_msgs/TFMessage (body_<id> + 55 joint frames per body)
    ~/markers                          visualization_msgs/MarkerArray (skeleton, mesh, deletes)
    ~/debug_image                      sensor_msgs/Image rgb8 overlay (optional)
Every output carries the source image's header stamp (exact) and the camera frame id.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header, String
from visualization_msgs.msg import MarkerArray

from robosmplx_core.body_model import BodyModel
from robosmplx_core.render.overlay import draw_overlay
from robosmplx_core.types import Frame, PersonEstimate
from robosmplx_ros.convert import copy_header, joint_state_msg, persons_to_msg, rgb_to_image, tracked_ids_msg
from robosmplx_ros.markers import (delete_markers, marker_array_bytes, mesh_marker, mesh_vertices,
                                   skeleton_marker, triangle_points)
from robosmplx_ros.params import NodeParams
from robosmplx_ros.skeleton import body_id, body_poses, joint_positions
from robosmplx_ros.tf import body_transforms
from robosmplx_ros.urdf import body_urdf

from robosmplx.msg import SMPLXPersonArray

try:  # tf2_msgs: a ROS install, or the one-message build of tools/build_tf2_msgs.sh
    from tf2_msgs.msg import TFMessage
except ImportError:  # pragma: no cover - documented fallback: no /tf
    TFMessage = None

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)


def body_topic(track_id: int, leaf: str) -> str:
    """REP-155 per-body topic, e.g. ``/humans/bodies/b3/joint_states`` for track 3."""
    return f"/humans/bodies/{body_id(track_id)}/{leaf}"


class OutputPublisher:
    """Publishes the outputs of one processed image; keeps the per-body publishers."""

    def __init__(self, node: Node, params: NodeParams, body_model: BodyModel) -> None:
        self.node, self.params, self.model = node, params, body_model
        self.faces = body_model.faces
        p = params
        self.persons_pub = node.create_publisher(SMPLXPersonArray, "~/persons", 10)
        self.tracked_pub = node.create_publisher(String, "/humans/bodies/tracked", 10) if p.publish_tracked else None
        self.tf_pub = (node.create_publisher(TFMessage, "/tf", 100)
                       if p.publish_tf and TFMessage is not None else None)
        if p.publish_tf and TFMessage is None:
            node.get_logger().warning("tf2_msgs is not importable: /tf is not published "
                                      "(run tools/build_tf2_msgs.sh VENV or source a ROS install)")
        self.markers_pub = node.create_publisher(MarkerArray, "~/markers", 10) if p.publish_markers else None
        self.debug_pub = node.create_publisher(Image, "~/debug_image", 2) if p.publish_debug_image else None
        self._joint_pubs: dict[int, object] = {}
        self._urdf_pubs: dict[int, object] = {}
        self._shown: set[int] = set()  # track ids with markers currently shown

    def publish(self, frame: Frame, header: Header, persons: list[PersonEstimate], dead_ids: tuple[int, ...],
                K: np.ndarray) -> None:
        """All outputs for one image; ``header`` is the source image header (frame id already
        replaced by the ``camera_frame`` parameter when set)."""
        self.persons_pub.publish(persons_to_msg(persons, header=header))
        if self.tracked_pub is not None:
            self.tracked_pub.publish(tracked_ids_msg([p.track_id for p in persons]))
        need_poses = self.tf_pub or self.markers_pub or self.params.publish_joint_states or self.params.publish_urdf
        poses = body_poses(self.model, persons) if need_poses and persons else []
        for pose in poses:
            self._publish_body(pose, header)
        if self.tf_pub is not None and poses:
            self.tf_pub.publish(TFMessage(transforms=[t for pose in poses
                                                      for t in body_transforms(pose, header, header.frame_id)]))
        if self.markers_pub is not None:
            self._publish_markers(persons, poses, header)
        if self.debug_pub is not None:
            rgb = draw_overlay(frame.image, persons, mode="skeleton", K=K, faces=self.faces,
                               parents=self.model.parents)
            self.debug_pub.publish(rgb_to_image(rgb, copy_header(header)))
        for tid in dead_ids:
            self._drop_body(tid)

    def _publish_body(self, pose, header: Header) -> None:
        tid = pose.track_id
        if self.params.publish_urdf and tid not in self._urdf_pubs:
            pub = self.node.create_publisher(String, body_topic(tid, "urdf"), LATCHED)
            pub.publish(String(data=body_urdf(tid, pose.rest_joints)))
            self._urdf_pubs[tid] = pub
        if self.params.publish_joint_states:
            pub = self._joint_pubs.get(tid)
            if pub is None:
                pub = self._joint_pubs[tid] = self.node.create_publisher(JointState, body_topic(tid, "joint_states"), 10)
            pub.publish(joint_state_msg(pose, header))

    def _publish_markers(self, persons: list[PersonEstimate], poses: list, header: Header) -> None:
        markers, points = [], []
        for pose in poses:
            markers.append(skeleton_marker(joint_positions(pose), pose.track_id, header))
            points.append(None)
        if self.params.publish_mesh and persons:
            for person, verts in zip(persons, mesh_vertices(self.model, persons)):
                markers.append(mesh_marker(person.track_id, header))
                points.append(triangle_points(verts, self.faces))
        ids = {p.track_id for p in persons}
        gone = sorted(self._shown - ids)
        markers += delete_markers(gone, header)
        points += [None] * (2 * len(gone))
        self._shown = ids
        if markers:
            self.markers_pub.publish(marker_array_bytes(markers, points))

    def _drop_body(self, tid: int) -> None:
        """The tracker removed ``tid``: its per-body publishers go away."""
        for table in (self._joint_pubs, self._urdf_pubs):
            pub: Optional[object] = table.pop(tid, None)
            if pub is not None:
                self.node.destroy_publisher(pub)
