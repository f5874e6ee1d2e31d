"""The SMPL-X skeleton of each person as a kinematic chain (pure numpy; no messages).

Conventions (shared by JointState, TF and the URDF); ``<id>`` is :func:`body_id` ("b3" for
track 3):
    - frames: ``body_<id>`` sits at the pelvis joint (SMPL-X's pelvis is the hip midpoint of
      the skeleton), parent = the camera optical frame, rotated by ``global_orient``;
      ``pelvis_<id>`` coincides with it; every other SMPL-X joint j has frame ``<name_j>_<id>``
      whose parent is its SMPL-X parent's frame (``robosmplx_core.body_model.joints``);
    - a joint frame's translation in its parent frame is the rest-pose bone of the shaped body
      (betas and expression), its rotation is the joint's parent-relative SMPL-X rotation, so
      chaining the frames reproduces the posed skeleton exactly (linear blend skinning joints);
    - DoFs: each non-root joint is three revolute joints named ``<name>_x_<id>``,
      ``<name>_y_<id>``, ``<name>_z_<id>`` (e.g. ``left_knee_x_b3``) about the x, y, z axes in that order (parent to
      child), i.e. the rotation is R = Rx(a) Ry(b) Rz(c): intrinsic XYZ Euler angles, radians.
      The root (pelvis) rotation is a floating base (as in URDF): it is the orientation of
      ``body_<id>``, not a JointState DoF. 54 joints x 3 = 162 DoFs per body.
Quaternions are (x, y, z, w). Shapes: N persons, 55 skeleton joints.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.joints import NUM_SMPLX_JOINTS, SMPLX_JOINT_NAMES, SMPLX_PARENTS
from robosmplx_core.types import PersonEstimate, SMPLXParams

AXES = ("x", "y", "z")


@dataclass(frozen=True)
class BodyPose:
    """One person's skeleton for TF / JointState / URDF.

    Fields:
        track_id: tracker id.
        rest_joints: (55, 3) float64 rest-pose joints of the shaped body, model frame, metres
            (no translation).
        local_rotmats: (55, 3, 3) float64 parent-relative rotations; [0] = global_orient
            (relative to the camera optical frame).
        pelvis: (3,) float64 pelvis position in the camera frame, metres.
    """

    track_id: int
    rest_joints: np.ndarray
    local_rotmats: np.ndarray
    pelvis: np.ndarray

    @property
    def bones(self) -> np.ndarray:
        """(55, 3) each joint's rest offset from its parent ([0] = zeros)."""
        parents = np.asarray(SMPLX_PARENTS)
        out = self.rest_joints - self.rest_joints[np.maximum(parents, 0)]
        out[0] = 0.0
        return out


def body_id(track_id: int) -> str:
    """The body id of a track in names (REP-155 ``<id>``): ``b<track_id>``, e.g. "b3".

    ROS name tokens must not start with a digit (``/humans/bodies/3/...`` is not a valid
    topic), so the tracker's integer id gets a letter prefix; ``SMPLXPerson.track_id`` 3 is
    body "b3" in every topic, frame and joint name.
    """
    return f"b{int(track_id)}"


def frame_name(joint: str, track_id: int) -> str:
    """TF frame / URDF link of a joint: ``<joint>_<id>``, e.g. "left_knee_b3"."""
    return f"{joint}_{body_id(track_id)}"


def body_frame(track_id: int) -> str:
    """REP-155 body root frame: ``body_<id>``, e.g. "body_b3"."""
    return f"body_{body_id(track_id)}"


def dof_names(track_id: int) -> list[str]:
    """The 162 JointState / URDF revolute joint names of a body, in SMPL-X joint order,
    e.g. "left_hip_x_b3", "left_hip_y_b3", "left_hip_z_b3", "right_hip_x_b3", ..."""
    return [f"{name}_{axis}_{body_id(track_id)}" for name in SMPLX_JOINT_NAMES[1:] for axis in AXES]


def local_rotmats(params: SMPLXParams) -> np.ndarray:
    """(B, 55, 3, 3) float64 parent-relative rotations in SMPL-X joint order."""
    p = params
    full = torch.cat([p.global_orient[:, None], p.body_pose, p.jaw_pose[:, None], p.leye_pose[:, None],
                      p.reye_pose[:, None], p.left_hand_pose, p.right_hand_pose], dim=1)
    return full.detach().cpu().double().numpy()


def rest_joints(model: BodyModel, params: SMPLXParams) -> np.ndarray:
    """(B, 55, 3) float64 rest-pose skeleton joints for the params' betas and expression."""
    rest = dataclasses.replace(SMPLXParams.zeros(params.batch_size, num_betas=model.num_betas,
                                                 num_expression=model.num_expression),
                               betas=params.betas.detach().float().cpu(),
                               expression=params.expression.detach().float().cpu())
    with torch.inference_mode():
        return model.joints(rest)[:, :NUM_SMPLX_JOINTS].double().cpu().numpy()


def body_poses(model: BodyModel, persons: list[PersonEstimate]) -> list[BodyPose]:
    """One :class:`BodyPose` per person (one batched body-model call)."""
    if not persons:
        return []
    params = SMPLXParams.cat([p.params.detach().to("cpu") for p in persons])
    rest, rots = rest_joints(model, params), local_rotmats(params)
    transl = params.transl.detach().double().cpu().numpy()
    return [BodyPose(track_id=int(p.track_id), rest_joints=rest[i], local_rotmats=rots[i],
                     pelvis=rest[i, 0] + transl[i]) for i, p in enumerate(persons)]


def euler_xyz(rotmats: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 3) intrinsic XYZ Euler angles (R = Rx Ry Rz), radians."""
    flat = np.asarray(rotmats, np.float64).reshape(-1, 3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gimbal lock: scipy picks a valid solution and warns
        angles = Rotation.from_matrix(flat).as_euler("XYZ")
    return angles.reshape(*np.shape(rotmats)[:-2], 3)


def joint_positions(pose: BodyPose) -> np.ndarray:
    """(55, 3) forward kinematics of the frame chain: joint positions in the camera frame."""
    parents = SMPLX_PARENTS
    glob = np.empty((NUM_SMPLX_JOINTS, 3, 3))
    pos = np.empty((NUM_SMPLX_JOINTS, 3))
    bones = pose.bones
    glob[0], pos[0] = pose.local_rotmats[0], pose.pelvis
    for j in range(1, NUM_SMPLX_JOINTS):
        p = parents[j]
        glob[j] = glob[p] @ pose.local_rotmats[j]
        pos[j] = pos[p] + glob[p] @ bones[j]
    return pos
