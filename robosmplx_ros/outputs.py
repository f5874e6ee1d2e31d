"""Everything the node publishes for one processed image: :class:`OutputBuilder` builds the
messages (no node; the bag processor ``robosmplx_ros.bag`` writes the same messages to a bag),
:class:`OutputPublisher` publishes them from the live node.

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

from dataclasses import dataclass
from typing import Any, Iterator, Optional

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


def missing_output_hints(params: NodeParams) -> list[str]:
    """Why an enabled output cannot be produced here (one line each, with the fix)."""
    if params.publish_tf and TFMessage is None:
        return ["tf2_msgs is not importable: /tf is not published "
                "(run tools/build_tf2_msgs.sh VENV or source a ROS install)"]
    return []


@dataclass(frozen=True)
class Output:
    """One outgoing message.

    Fields:
        topic: the name as the node gives it to ``create_publisher`` (``~/persons`` is
            relative to the node; the consumer resolves and remaps it).
        msg_type: the rclpy message class.
        msg: a message instance, or its CDR bytes (the marker array, see ``markers.py``).
        qos: the publisher's QoS (history depth, or :data:`LATCHED`).
    """

    topic: str
    msg_type: type
    msg: Any
    qos: QoSProfile


@dataclass(frozen=True)
class FrameOutputs:
    """Everything for one processed image.

    Fields:
        persons: the estimates.
        messages: the messages in publish order, built lazily (each one when it is taken, so
            the node publishes ``~/persons`` before TF and markers are built); iterate it
            exactly once, completely (it updates the builder's per-body state).
        closed_topics: per-body topics of tracks removed at this image (publishers go away).
    """

    persons: list[PersonEstimate]
    messages: Iterator[Output]
    closed_topics: tuple[str, ...]


class OutputBuilder:
    """Builds the output messages of each processed image (no node: the live node publishes
    them, the bag processor ``robosmplx_ros.bag`` writes them); keeps the per-body state
    (URDF sent once per body, markers shown)."""

    def __init__(self, params: NodeParams, body_model: BodyModel) -> None:
        self.params, self.model = params, body_model
        self.faces = body_model.faces
        self.publish_tf = params.publish_tf and TFMessage is not None
        self._bodies: set[int] = set()  # track ids with per-body topics
        self._shown: set[int] = set()  # track ids with markers currently shown
        self._qos = {topic: qos for topic, _, qos in self.fixed_topics()}

    def fixed_topics(self) -> list[tuple[str, type, QoSProfile]]:
        """(topic, type, QoS) of the enabled outputs that exist from the start."""
        p = self.params
        table = [("~/persons", SMPLXPersonArray, 10, True),
                 ("/humans/bodies/tracked", String, 10, p.publish_tracked),
                 ("/tf", TFMessage, 100, self.publish_tf),
                 ("~/markers", MarkerArray, 10, p.publish_markers),
                 ("~/debug_image", Image, 2, p.publish_debug_image)]
        return [(topic, mtype, QoSProfile(depth=depth)) for topic, mtype, depth, on in table if on]

    def build(self, frame: Frame, header: Header, persons: list[PersonEstimate], dead_ids: tuple[int, ...],
              K: np.ndarray) -> FrameOutputs:
        """All outputs for one image; ``header`` is the source image header (frame id already
        replaced by the ``camera_frame`` parameter when set). Dead tracks are never among
        ``persons``, so their topics close up front."""
        closed = tuple(t for tid in dead_ids if tid in self._bodies for t in self._body_topics(tid))
        self._bodies.difference_update(dead_ids)
        return FrameOutputs(persons=persons, messages=self._messages(frame, header, persons, K), closed_topics=closed)

    def _messages(self, frame: Frame, header: Header, persons: list[PersonEstimate], K: np.ndarray) -> Iterator[Output]:
        p, qos = self.params, self._qos
        yield Output("~/persons", SMPLXPersonArray, persons_to_msg(persons, header=header), qos["~/persons"])
        if p.publish_tracked:
            yield Output("/humans/bodies/tracked", String, tracked_ids_msg([q.track_id for q in persons]),
                         qos["/humans/bodies/tracked"])
        need_poses = self.publish_tf or p.publish_markers or p.publish_joint_states or p.publish_urdf
        poses = body_poses(self.model, persons) if need_poses and persons else []
        for pose in poses:
            yield from self._body_outputs(pose, header)
        if self.publish_tf and poses:
            yield Output("/tf", TFMessage, TFMessage(transforms=[
                t for pose in poses for t in body_transforms(pose, header, header.frame_id)]), qos["/tf"])
        if p.publish_markers:
            markers = self._markers(persons, poses, header)
            if markers is not None:
                yield Output("~/markers", MarkerArray, markers, qos["~/markers"])
        if p.publish_debug_image:
            rgb = draw_overlay(frame.image, persons, mode="skeleton", K=K, faces=self.faces,
                               parents=self.model.parents)
            yield Output("~/debug_image", Image, rgb_to_image(rgb, copy_header(header)), qos["~/debug_image"])

    def _body_topics(self, tid: int) -> list[str]:
        p = self.params
        return [body_topic(tid, leaf) for leaf, on in (("joint_states", p.publish_joint_states),
                                                       ("urdf", p.publish_urdf)) if on]

    def _body_outputs(self, pose, header: Header) -> list[Output]:
        tid, out = pose.track_id, []
        if self.params.publish_urdf and tid not in self._bodies:
            out.append(Output(body_topic(tid, "urdf"), String, String(data=body_urdf(tid, pose.rest_joints)), LATCHED))
        if self.params.publish_joint_states:
            out.append(Output(body_topic(tid, "joint_states"), JointState, joint_state_msg(pose, header),
                              QoSProfile(depth=10)))
        self._bodies.add(tid)
        return out

    def _markers(self, persons: list[PersonEstimate], poses: list, header: Header) -> Optional[bytes]:
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
        return marker_array_bytes(markers, points) if markers else None


class OutputPublisher:
    """Publishes an :class:`OutputBuilder`'s messages from ``node`` (one publisher per topic,
    created on first use; the fixed topics up front)."""

    def __init__(self, node: Node, builder: OutputBuilder) -> None:
        self.node, self.builder = node, builder
        for hint in missing_output_hints(builder.params):
            node.get_logger().warning(hint)
        self._pubs: dict[str, Any] = {topic: node.create_publisher(mtype, topic, qos)
                                      for topic, mtype, qos in builder.fixed_topics()}

    def publish(self, outputs: FrameOutputs) -> None:
        """Publish one image's outputs in order, then drop the publishers of closed topics."""
        for o in outputs.messages:
            pub = self._pubs.get(o.topic)
            if pub is None:
                pub = self._pubs[o.topic] = self.node.create_publisher(o.msg_type, o.topic, o.qos)
            pub.publish(o.msg)
        for topic in outputs.closed_topics:
            pub = self._pubs.pop(topic, None)
            if pub is not None:
                self.node.destroy_publisher(pub)
