"""rviz markers of the tracked bodies (``visualization_msgs/MarkerArray``), camera frame.

Per person: namespace ``skeleton`` (LINE_LIST, the 54 bones of the SMPL-X skeleton, 2 points
per bone) and namespace ``mesh`` (TRIANGLE_LIST, the posed mesh: 3 points per face, so rviz
shows it with no mesh files); marker id = track id, colour = ``track_color(track_id)``.
Tracks that died get DELETE markers in both namespaces.

A mesh marker has ~63k points (3 x 20908 faces). Building 63k ``geometry_msgs/Point`` objects
takes ~0.4 s in Python, so :func:`marker_array_bytes` serialises the array with one sentinel
point per mesh and splices the vertex bytes into the CDR buffer (~2 ms); the node publishes
those bytes directly (rclpy publishes serialized bytes as-is). Tests deserialise the result.
"""

from __future__ import annotations

import struct
from typing import Optional, Sequence

import numpy as np
import torch
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from rclpy.serialization import serialize_message
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.joints import SMPLX_PARENTS
from robosmplx_core.render.overlay import track_color
from robosmplx_core.types import PersonEstimate, SMPLXParams
from robosmplx_ros.convert import copy_header

SKELETON_NS = "skeleton"
MESH_NS = "mesh"
_LIFETIME_SENTINEL = (0x2B3C4D5E, 0x1A2B3C4D)  # (sec, nanosec base) marks a mesh marker's lifetime
_POINT_SENTINEL = -1.2345678912345e300


def _color(track_id: int, alpha: float) -> ColorRGBA:
    r, g, b, a = np.array([*track_color(track_id), 255.0 * alpha], np.float32) / np.float32(255.0)
    return ColorRGBA(r=float(r), g=float(g), b=float(b), a=float(a))  # float32 values: equal after CDR


def _base(header: Header, ns: str, track_id: int, mtype: int, scale: float, alpha: float) -> Marker:
    return Marker(header=copy_header(header), ns=ns, id=int(track_id), type=mtype, action=Marker.ADD,
                  pose=Pose(orientation=Quaternion(w=1.0)), scale=Vector3(x=scale, y=scale, z=scale),
                  color=_color(track_id, alpha))


def _points(xyz: np.ndarray) -> list[Point]:
    return [Point(x=x, y=y, z=z) for x, y, z in np.asarray(xyz, np.float64).tolist()]


def skeleton_marker(joints_xyz: np.ndarray, track_id: int, header: Header, *, width_m: float = 0.02) -> Marker:
    """LINE_LIST of the 54 bones; ``joints_xyz`` (>= 55, 3) camera-frame skeleton joints."""
    m = _base(header, SKELETON_NS, track_id, Marker.LINE_LIST, width_m, 1.0)
    child = np.arange(1, 55)
    pairs = np.stack([joints_xyz[np.asarray(SMPLX_PARENTS)[child]], joints_xyz[child]], axis=1).reshape(-1, 3)
    m.points = _points(pairs)
    return m


def mesh_marker(track_id: int, header: Header, *, alpha: float = 0.8) -> Marker:
    """TRIANGLE_LIST marker without points (they come from :func:`marker_array_bytes`)."""
    return _base(header, MESH_NS, track_id, Marker.TRIANGLE_LIST, 1.0, alpha)


def delete_markers(track_ids: Sequence[int], header: Header) -> list[Marker]:
    """DELETE markers (both namespaces) for tracks that are gone."""
    return [Marker(header=copy_header(header), ns=ns, id=int(t), action=Marker.DELETE)
            for t in track_ids for ns in (SKELETON_NS, MESH_NS)]


def mesh_vertices(model: BodyModel, persons: list[PersonEstimate]) -> np.ndarray:
    """(N, V, 3) float64 posed vertices in the camera frame (one batched body-model call)."""
    if not persons:
        return np.zeros((0, 0, 3))
    params = SMPLXParams.cat([p.params.detach().to("cpu") for p in persons])
    with torch.inference_mode():
        return model(params).vertices.double().cpu().numpy()


def triangle_points(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(3F, 3) float64 TRIANGLE_LIST points of a mesh: (V, 3) vertices, (F, 3) faces."""
    return np.asarray(vertices, np.float64)[np.asarray(faces).reshape(-1)]


def marker_array_bytes(markers: list[Marker], mesh_points: Sequence[Optional[np.ndarray]]) -> bytes:
    """Serialized (CDR) ``MarkerArray`` of ``markers`` where ``markers[i].points`` is replaced by
    ``mesh_points[i]`` ((P, 3) float64) when that is not None. The markers are not modified.

    Returns bytes for ``publisher.publish`` (and ``rclpy.serialization.deserialize_message``).
    """
    if len(mesh_points) != len(markers):
        raise ValueError(f"marker_array_bytes: {len(markers)} markers but {len(mesh_points)} point arrays")
    todo = [i for i, pts in enumerate(mesh_points) if pts is not None and len(pts)]
    if not todo:
        out = MarkerArray(markers=list(markers))
        for i, pts in enumerate(mesh_points):
            if pts is not None:  # empty mesh
                out.markers[i] = _with(markers[i], points=[])
        return bytes(serialize_message(out))
    tmp = list(markers)
    for k, i in enumerate(todo):
        tmp[i] = _with(markers[i], points=[Point(x=_POINT_SENTINEL, y=float(k), z=_POINT_SENTINEL)],
                       lifetime=Duration(sec=_LIFETIME_SENTINEL[0], nanosec=_LIFETIME_SENTINEL[1] + k))
    buf = bytes(serialize_message(MarkerArray(markers=tmp)))
    if buf[:2] != b"\x00\x01":
        raise RuntimeError(f"marker_array_bytes: expected little-endian CDR, got encapsulation {buf[:4]!r}")
    parts, pos = [], 0
    for k, i in enumerate(todo):
        lt = buf.find(struct.pack("<iI", _LIFETIME_SENTINEL[0], _LIFETIME_SENTINEL[1] + k), pos)
        count_at = 4 + _ceil(lt + 9 - 4, 4)  # after lifetime (8 bytes) and frame_locked (1 byte)
        data_at = 4 + _ceil(count_at + 4 - 4, 8)
        sentinel = struct.pack("<3d", _POINT_SENTINEL, float(k), _POINT_SENTINEL)
        if lt < 0 or buf[count_at:count_at + 4] != struct.pack("<I", 1) or buf[data_at:data_at + 24] != sentinel:
            raise RuntimeError("marker_array_bytes: unexpected Marker CDR layout")
        pts = np.ascontiguousarray(mesh_points[i], dtype="<f8").reshape(-1, 3)
        life = markers[i].lifetime
        parts += [buf[pos:lt], struct.pack("<iI", life.sec, life.nanosec), buf[lt + 8:count_at],
                  struct.pack("<I", len(pts)), buf[count_at + 4:data_at], pts.tobytes()]
        pos = data_at + 24
    parts.append(buf[pos:])
    return b"".join(parts)


def _ceil(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _with(marker: Marker, **fields: object) -> Marker:
    """A shallow copy of ``marker`` with some fields replaced."""
    out = Marker()
    for name in marker.get_fields_and_field_types():
        setattr(out, name, fields[name] if name in fields else getattr(marker, name))
    return out
