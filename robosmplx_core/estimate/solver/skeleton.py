"""The body model reduced to what the solver needs, in numpy: skeleton + 127 output points.

``SkeletonModel.from_body_model(model)`` reads, once per model, only what any SMPL-X file
provides through ``smplx.SMPLXLayer``: the template, shape and expression bases, joint
regressor, kinematic tree, skinning weights, pose correctives, the vertex-joint indices and the
face-landmark barycentric embedding. It keeps the 55 joints' share of those bases and the few
vertices behind the 21 vertex joints and 51 face landmarks, so posing the 127 output points is
forward kinematics plus linear blend skinning of ~200 vertices (tens of microseconds) instead
of a 10475-vertex forward pass. It is the same math as ``smplx.lbs`` (checked against the
layer in ``tests/unit/test_solver_parts.py``); the mesh itself is only ever posed by the layer.

Conventions: the model's own frame (SMPL-X: y up, facing +z) or any frame the root rotation
maps it to; metres; ``local`` rotations (55, 3, 3) are parent-relative as in
``SMPLXParams`` (index 0 = global orientation, 1..21 body, 22 jaw, 23/24 eyes, 25..54 hands).
Like ``smplx``, posing keeps the root joint where the rest pose has it (``joints[0]`` is
``rest.joints[0]``); add ``transl`` afterwards. Glossary: NB betas, NE expression, Vs the kept
vertices, 127 the output points (``SMPLX_127_NAMES``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robosmplx_core.body_model.joints import NUM_SMPLX_JOINTS
from robosmplx_core.estimate.solver.linalg import matmul_rows, vecmat

NUM_POINTS = 127
NUM_VERTEX_JOINTS = 21
NUM_FACE_LANDMARKS = 51
_IDENTITY = np.eye(3)[None]


@dataclass(frozen=True)
class RestShape:
    """Rest pose for one shape/expression, metres.

    Fields:
        joints: (55, 3) rest joints.
        bones: (55, 3) each joint minus its parent (row 0 is zero).
        vertices: (Vs, 3) the kept vertices.
    """

    joints: np.ndarray
    bones: np.ndarray
    vertices: np.ndarray


@dataclass(frozen=True)
class Posed:
    """A posed skeleton (root at its rest position, no translation).

    Fields:
        rotations: (55, 3, 3) global rotation of each joint.
        joints: (55, 3) joint positions.
        points: (127, 3) the model's output joints (55 + 21 vertex joints + 51 landmarks).
        vertex_rotations: (Vs, 3, 3) blended skinning rotation of each kept vertex.
    """

    rotations: np.ndarray
    joints: np.ndarray
    points: np.ndarray
    vertex_rotations: np.ndarray


def _doubling_steps(parents: np.ndarray) -> tuple[np.ndarray, ...]:
    """Ancestor index arrays for forward kinematics by pointer doubling.

    With an extra identity node (index n) above the root, step s holds each node's ancestor
    2^s levels up (clamped at the identity node). Composing ``A <- A[step] @ A`` for all steps
    turns local rotations into global ones in ceil(log2(depth)) batched products instead of
    one product per tree level.
    """
    n = len(parents)
    up = np.append(np.where(parents < 0, n, parents), n)  # (n + 1,), the identity node is its own parent
    depth = np.zeros(n, np.int64)
    for j in range(n):
        depth[j] = 0 if parents[j] < 0 else depth[parents[j]] + 1
    steps = []
    for _ in range(int(np.ceil(np.log2(depth.max() + 1)))):
        steps.append(up.copy())
        up = up[up]
    return tuple(steps)


@dataclass(frozen=True)
class SkeletonModel:
    """Per-model constants (read-only numpy, float64).

    Fields:
        parents: (55,) int64, -1 for the root.
        doubling: ancestor index arrays for forward kinematics (see ``_doubling_steps``).
        joint_template: (55, 3) rest joints at zero shape and expression.
        joint_shapedirs: (55, 3, NB) and joint_exprdirs: (55, 3, NE) their linear bases.
        vertex_ids: (Vs,) mesh indices of the kept vertices.
        vertex_template, vertex_shapedirs (Vs, 3, NB), vertex_exprdirs (Vs, 3, NE).
        skin_weights: (Vs, 55) skinning weights of the kept vertices.
        vertex_posedirs: (54 * 9, Vs * 3) pose correctives of the kept vertices, or None when
            the model has none.
        point_matrix: (127, 55 + Vs) each output point as a combination of joints and vertices.
        point_ancestry: (127, 55) how much each output point turns with each joint's rotation
            (1 for a joint's strict ancestors; skinning-weight sums for vertex points).
        chain: (55, 54) 1 where joint j's position sums bone i + 1 (the path root -> j).
        bone_shapedirs: (54, 3, NB) shape basis of each non-root joint minus its parent.
    """

    parents: np.ndarray
    doubling: tuple[np.ndarray, ...]
    joint_template: np.ndarray
    joint_shapedirs: np.ndarray
    joint_exprdirs: np.ndarray
    vertex_ids: np.ndarray
    vertex_template: np.ndarray
    vertex_shapedirs: np.ndarray
    vertex_exprdirs: np.ndarray
    skin_weights: np.ndarray
    vertex_posedirs: np.ndarray | None
    point_matrix: np.ndarray
    point_ancestry: np.ndarray
    chain: np.ndarray
    bone_shapedirs: np.ndarray

    @property
    def num_betas(self) -> int:
        """NB."""
        return int(self.joint_shapedirs.shape[-1])

    @property
    def num_expression(self) -> int:
        """NE."""
        return int(self.joint_exprdirs.shape[-1])

    @classmethod
    def from_body_model(cls, model) -> "SkeletonModel":
        """Extract the constants from a ``BodyModel`` (stand-in or real SMPL-X files)."""
        layer = model.layer

        def arr(t) -> np.ndarray:
            return t.detach().cpu().double().numpy()

        regressor = arr(layer.J_regressor)  # (55, V)
        template, shapedirs, exprdirs = arr(layer.v_template), arr(layer.shapedirs), arr(layer.expr_dirs)
        parents = np.asarray(model.parents, np.int64)
        faces = layer.faces_tensor.detach().cpu().numpy().astype(np.int64)
        extra = layer.vertex_joint_selector.extra_joints_idxs.detach().cpu().numpy().astype(np.int64)
        lmk_faces = faces[layer.lmk_faces_idx.detach().cpu().numpy().astype(np.int64)]  # (51, 3)
        lmk_bary = arr(layer.lmk_bary_coords)
        if len(extra) != NUM_VERTEX_JOINTS or len(lmk_faces) != NUM_FACE_LANDMARKS:
            raise ValueError(f"expected {NUM_VERTEX_JOINTS} vertex joints and {NUM_FACE_LANDMARKS} face landmarks, "
                             f"got {len(extra)} and {len(lmk_faces)}; load the model with use_face_contour=False "
                             "and smplx 0.1.28's default vertex ids")
        vids, inverse = np.unique(np.concatenate([extra, lmk_faces.ravel()]), return_inverse=True)
        n_j, n_v = NUM_SMPLX_JOINTS, len(vids)
        points = np.zeros((NUM_POINTS, n_j + n_v))
        points[np.arange(n_j), np.arange(n_j)] = 1.0
        points[n_j + np.arange(NUM_VERTEX_JOINTS), n_j + inverse[:NUM_VERTEX_JOINTS]] = 1.0
        rows = np.repeat(n_j + NUM_VERTEX_JOINTS + np.arange(NUM_FACE_LANDMARKS), 3)
        np.add.at(points, (rows, n_j + inverse[NUM_VERTEX_JOINTS:]), lmk_bary.ravel())

        weights = arr(layer.lbs_weights)[vids]  # (Vs, 55)
        posedirs = arr(layer.posedirs).reshape(-1, template.shape[0], 3)[:, vids].reshape(-1, n_v * 3)
        joint_shapedirs = np.tensordot(regressor, shapedirs, axes=1)  # (55, 3, NB)
        return cls(
            parents=parents, doubling=_doubling_steps(parents),
            joint_template=regressor @ template,
            joint_shapedirs=joint_shapedirs,
            joint_exprdirs=np.tensordot(regressor, exprdirs, axes=1),
            vertex_ids=vids, vertex_template=template[vids], vertex_shapedirs=shapedirs[vids],
            vertex_exprdirs=exprdirs[vids], skin_weights=weights,
            vertex_posedirs=posedirs if np.abs(posedirs).max() > 0 else None,
            point_matrix=points, point_ancestry=_ancestry(parents, weights, points), chain=_subtree(parents)[:, 1:],
            bone_shapedirs=(joint_shapedirs - joint_shapedirs[np.maximum(parents, 0)])[1:],
        )

    def rest(self, betas: np.ndarray | None = None, expression: np.ndarray | None = None) -> RestShape:
        """Rest joints and kept vertices for ``betas`` (NB,) and ``expression`` (NE,) (zeros if None)."""
        joints, verts = self.joint_template, self.vertex_template
        if betas is not None:
            joints = joints + (self.joint_shapedirs.reshape(-1, len(betas)) @ betas).reshape(-1, 3)
            verts = verts + (self.vertex_shapedirs.reshape(-1, len(betas)) @ betas).reshape(-1, 3)
        if expression is not None:
            joints = joints + (self.joint_exprdirs.reshape(-1, len(expression)) @ expression).reshape(-1, 3)
            verts = verts + (self.vertex_exprdirs.reshape(-1, len(expression)) @ expression).reshape(-1, 3)
        bones = joints - joints[np.maximum(self.parents, 0)]
        return RestShape(joints=joints, bones=bones, vertices=verts)

    def rest_points(self, rest: RestShape) -> np.ndarray:
        """(127, 3) output points in the rest pose."""
        return self.point_matrix @ np.concatenate([rest.joints, rest.vertices])

    def global_rotations(self, local: np.ndarray) -> np.ndarray:
        """Global rotations (55, 3, 3) from local rotations (55, 3, 3)."""
        acc = np.concatenate([local, _IDENTITY])
        for step in self.doubling:
            acc = acc[step] @ acc
        return acc[:-1]

    def pose_globals(self, glob: np.ndarray, rest: RestShape, local: np.ndarray | None = None) -> Posed:
        """Pose from global rotations (55, 3, 3); ``local`` (55, 3, 3) only feeds pose correctives."""
        seg = (glob[self.parents[1:]] @ rest.bones[1:, :, None])[..., 0]
        pos = rest.joints[0] + self.chain @ seg
        verts = rest.vertices
        if self.vertex_posedirs is not None and local is not None:
            feature = (local[1:] - _IDENTITY).reshape(-1)
            verts = verts + vecmat(feature, self.vertex_posedirs).reshape(-1, 3)
        shift = pos - (glob @ rest.joints[..., None])[..., 0]  # (55, 3) translation of each joint's transform
        rot = (self.skin_weights @ glob.reshape(-1, 9)).reshape(-1, 3, 3)  # (Vs, 3, 3) blended rotation
        verts = (rot @ verts[..., None])[..., 0] + self.skin_weights @ shift
        points = self.point_matrix @ np.concatenate([pos, verts])
        return Posed(rotations=glob, joints=pos, points=points, vertex_rotations=rot)

    def pose(self, local: np.ndarray, rest: RestShape) -> Posed:
        """Pose the skeleton and the 127 output points with local rotations (55, 3, 3)."""
        return self.pose_globals(self.global_rotations(local), rest, local)

    def point_shapedirs(self, posed: Posed, rows: np.ndarray, vertices: np.ndarray) -> np.ndarray:
        """(n, 3, NB): how posed output points move per unit of each beta at fixed rotations.

        Args:
            rows: (n, 55 + len(vertices)) the wanted points' rows of ``point_matrix``, keeping
                the joint columns and the columns of ``vertices``.
            vertices: (m,) the kept vertices (positions in ``vertex_ids``) the points use.
        """
        glob, nb = posed.rotations, self.num_betas
        seg = glob[self.parents[1:]] @ self.bone_shapedirs  # (54, 3, NB)
        joints = self.joint_shapedirs[0] + matmul_rows(self.chain, seg.reshape(54, -1)).reshape(-1, 3, nb)
        shift = joints - glob @ self.joint_shapedirs  # d(joint transform's translation)/d beta
        verts = posed.vertex_rotations[vertices] @ self.vertex_shapedirs[vertices] + \
            matmul_rows(self.skin_weights[vertices], shift.reshape(len(glob), -1)).reshape(-1, 3, nb)
        return matmul_rows(rows, np.concatenate([joints, verts]).reshape(-1, 3 * nb)).reshape(-1, 3, nb)

    def point_exprdirs(self, posed: Posed, points: np.ndarray) -> np.ndarray:
        """(n, 3, NE): how the posed output points ``points`` (n,) (indices into the 127) move
        per unit of each expression coefficient (skinning of the expression basis; the small
        effect of expression on joint positions is ignored)."""
        offsets = posed.vertex_rotations @ self.vertex_exprdirs  # (Vs, 3, NE)
        rows = self.point_matrix[points, NUM_SMPLX_JOINTS:]
        return matmul_rows(rows, offsets.reshape(len(offsets), -1)).reshape(len(points), 3, -1)


def _ancestry(parents: np.ndarray, vertex_weights: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(127, 55): d(point)/d(rotation of joint k) scale, see ``SkeletonModel.point_ancestry``."""
    subtree = _subtree(parents)
    strict = subtree - np.eye(len(parents))  # a joint does not move with its own rotation
    vertex = vertex_weights @ subtree  # (Vs, 55) a vertex moves with its skinning joints and their ancestors
    return points @ np.concatenate([strict, vertex])


def _subtree(parents: np.ndarray) -> np.ndarray:
    """(55, 55): [m, k] = 1 when k is m or an ancestor of m."""
    n = len(parents)
    out = np.eye(n)
    for m in range(1, n):
        out[m] = out[parents[m]] + np.eye(n)[m]
    return out
