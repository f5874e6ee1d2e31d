"""URDF of one tracked body's SMPL-X skeleton, sized by its betas (REP-155 ``/humans/bodies/<id>/urdf``).

The tree matches the TF frames and JointState names of :mod:`robosmplx_ros.skeleton`: root
link ``body_<id>``, a fixed joint to ``pelvis_<id>``, then for each non-root SMPL-X joint j
three revolute joints ``<j>_x_<id>``, ``<j>_y_<id>``, ``<j>_z_<id>`` (axes x, y, z; the first
placed at the rest-pose bone offset, in the SMPL-X model frame) through two massless helper
links ``<j>_x_link_<id>``, ``<j>_y_link_<id>`` to link ``<j>_<id>``. Each bone is drawn as a
thin cylinder in the child's parent link. Lengths in metres; limits are +-pi. ``<id>`` is ``skeleton.body_id`` ("b3").
"""

from __future__ import annotations

import math

import numpy as np

from robosmplx_core.body_model.joints import NUM_SMPLX_JOINTS, SMPLX_JOINT_NAMES, SMPLX_PARENTS
from robosmplx_ros.skeleton import body_frame, body_id, frame_name

_BONE_RADIUS_M = 0.015


def _xyz(v: np.ndarray) -> str:
    return " ".join(f"{float(x):.6f}" for x in v)


def _bone_visual(offset: np.ndarray) -> str:
    """A cylinder from the parent's origin to ``offset`` (cylinders lie along z)."""
    length = float(np.linalg.norm(offset))
    if length < 1e-6:
        return ""
    d = offset / length
    pitch = math.acos(max(-1.0, min(1.0, d[2])))
    yaw = math.atan2(d[1], d[0])
    return (f'<visual><origin xyz="{_xyz(offset / 2)}" rpy="0 {pitch:.6f} {yaw:.6f}"/>'
            f'<geometry><cylinder radius="{_BONE_RADIUS_M}" length="{length:.6f}"/></geometry></visual>')


def body_urdf(track_id: int, rest_joints: np.ndarray) -> str:
    """URDF XML (str) of body ``track_id``; ``rest_joints`` (55, 3) rest-pose joints (metres)
    of the shaped body, e.g. ``BodyPose.rest_joints``."""
    rest = np.asarray(rest_joints, np.float64)
    if rest.shape[0] < NUM_SMPLX_JOINTS or rest.shape[-1] != 3:
        raise ValueError(f"body_urdf: expected rest_joints of shape (55, 3), got {rest.shape}")
    tid, bid = track_id, body_id(track_id)
    links = [f'<link name="{body_frame(tid)}"/>']
    joints = [f'<joint name="pelvis_fixed_{bid}" type="fixed"><parent link="{body_frame(tid)}"/>'
              f'<child link="{frame_name("pelvis", tid)}"/><origin xyz="0 0 0" rpy="0 0 0"/></joint>']
    visuals: dict[int, list[str]] = {j: [] for j in range(NUM_SMPLX_JOINTS)}
    for j in range(1, NUM_SMPLX_JOINTS):
        name, p = SMPLX_JOINT_NAMES[j], SMPLX_PARENTS[j]
        offset = rest[j] - rest[p]
        visuals[p].append(_bone_visual(offset))
        chain = [frame_name(SMPLX_JOINT_NAMES[p], tid), f"{name}_x_link_{bid}", f"{name}_y_link_{bid}",
                 frame_name(name, tid)]
        for k, axis in enumerate(("1 0 0", "0 1 0", "0 0 1")):
            origin = _xyz(offset) if k == 0 else "0 0 0"
            joints.append(f'<joint name="{name}_{"xyz"[k]}_{bid}" type="revolute">'
                          f'<parent link="{chain[k]}"/><child link="{chain[k + 1]}"/>'
                          f'<origin xyz="{origin}" rpy="0 0 0"/><axis xyz="{axis}"/>'
                          f'<limit lower="{-math.pi:.6f}" upper="{math.pi:.6f}" effort="0" velocity="0"/></joint>')
        links += [f'<link name="{chain[1]}"/>', f'<link name="{chain[2]}"/>']
    for j in range(NUM_SMPLX_JOINTS):
        links.append(f'<link name="{frame_name(SMPLX_JOINT_NAMES[j], tid)}">{"".join(visuals[j])}</link>')
    return ('<?xml version="1.0"?>\n'
            f'<robot name="human_{bid}">\n' + "\n".join(links + joints) + "\n</robot>\n")
