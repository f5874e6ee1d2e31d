"""The procedural stand-in SMPL-X model: file format, loading through unmodified smplx,
anatomy, skinning, blend shapes, keypoint vertices and face landmarks.

The model file is written once per module (it takes about a second). Coordinates: metres,
y up, the body faces +z, the person's left is +x.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import smplx
import smplx.joint_names
import smplx.vertex_ids
import torch
from scipy.spatial import cKDTree

from robosmplx_core.body_model.standin import STANDIN_HEIGHT_M, rest_joints, write_standin_model

NUM_VERTS = 10475
PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
           20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38, 21, 40, 41, 21, 43, 44,
           21, 46, 47, 21, 49, 50, 21, 52, 53]
REQUIRED = {
    "v_template": (NUM_VERTS, 3), "shapedirs": (NUM_VERTS, 3, 400),
    "posedirs": (NUM_VERTS, 3, 486), "J_regressor": (55, NUM_VERTS), "weights": (NUM_VERTS, 55),
    "kintree_table": (2, 55), "hands_componentsl": (45, 45), "hands_componentsr": (45, 45),
    "hands_meanl": (45,), "hands_meanr": (45,), "lmk_faces_idx": (51,),
    "lmk_bary_coords": (51, 3), "dynamic_lmk_faces_idx": (79, 17),
    "dynamic_lmk_bary_coords": (79, 17, 3),
}
# SMPL-X joint indices used below.
PELVIS, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE, NECK, HEAD = 0, 4, 5, 7, 8, 12, 15
L_ELBOW, L_WRIST, R_WRIST, JAW = 18, 20, 21, 22
# Extra joints appended by smplx's VertexJointSelector (after the 55 joints), in its order.
EXTRA = ["nose", "reye", "leye", "rear", "lear", "LBigToe", "LSmallToe", "LHeel", "RBigToe",
         "RSmallToe", "RHeel", "lthumb", "lindex", "lmiddle", "lring", "lpinky", "rthumb",
         "rindex", "rmiddle", "rring", "rpinky"]
NUM_EXTRA = 55 + len(EXTRA)  # 76: the 51 face landmarks follow


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("standin")
    write_standin_model(root)
    return root


@pytest.fixture(scope="module")
def npz(model_root: Path) -> dict[str, np.ndarray]:
    with np.load(model_root / "smplx" / "SMPLX_NEUTRAL.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def body(model_root: Path) -> smplx.SMPLX:
    return smplx.create(str(model_root), model_type="smplx", ext="npz", gender="neutral",
                        use_pca=False, num_betas=10, num_expression_coeffs=10)


def forward(body: smplx.SMPLX, **params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices ``(V, 3)`` and joints ``(127, 3)`` for one set of parameters."""
    tensors = {k: torch.as_tensor(v, dtype=torch.float32)[None] for k, v in params.items()}
    with torch.no_grad():
        out = body(**tensors)
    return out.vertices[0].numpy().astype(np.float64), out.joints[0].numpy().astype(np.float64)


def test_file_has_every_key_without_pickles(npz: dict[str, np.ndarray]) -> None:
    for key, shape in REQUIRED.items():
        assert npz[key].shape == shape, key
    assert npz["f"].ndim == 2 and npz["f"].shape[1] == 3
    assert 20000 < len(npz["f"]) < 21500
    assert all(a.dtype != object for a in npz.values())
    assert npz["v_template"].dtype == np.float32 and npz["shapedirs"].dtype == np.float32


def test_loads_through_plain_smplx(model_root: Path, body: smplx.SMPLX) -> None:
    with torch.no_grad():
        out = body()
    assert out.vertices.shape == (1, NUM_VERTS, 3)
    assert out.joints.shape == (1, 127, 3)
    contour = smplx.create(str(model_root), model_type="smplx", ext="npz", gender="neutral",
                           use_pca=False, use_face_contour=True)
    with torch.no_grad():
        assert contour().joints.shape == (1, 144, 3)
    layer = smplx.SMPLXLayer(model_path=str(model_root / "smplx"), num_betas=10,
                             num_expression_coeffs=10)
    with torch.no_grad():
        assert layer().vertices.shape == (1, NUM_VERTS, 3)


def test_deterministic_bytes(model_root: Path, tmp_path: Path) -> None:
    again = write_standin_model(tmp_path)
    first = (model_root / "smplx" / "SMPLX_NEUTRAL.npz").read_bytes()
    assert hashlib.sha256(again.read_bytes()).hexdigest() == hashlib.sha256(first).hexdigest()


def test_faces_closed_outward_and_non_degenerate(npz: dict[str, np.ndarray]) -> None:
    v, f = npz["v_template"].astype(np.float64), npz["f"].astype(np.int64)
    assert f.min() == 0 and f.max() == NUM_VERTS - 1
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    cross = np.cross(b - a, c - a)
    assert 0.5 * np.linalg.norm(cross, axis=1).min() > 1e-9
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    directed = set(map(tuple, edges.tolist()))
    assert len(directed) == len(edges)  # each directed edge once: consistent winding
    assert all((j, i) in directed for i, j in directed)  # closed surfaces
    assert np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0 > 0.03  # outward, > 30 litres


def test_left_right_symmetric(npz: dict[str, np.ndarray]) -> None:
    v = npz["v_template"].astype(np.float64)
    dist, _ = cKDTree(v).query(v * np.array([-1.0, 1.0, 1.0]))
    assert (dist < 1e-6).mean() > 0.99  # all but the few split vertices have a mirror twin


def test_rest_pose_dimensions(body: smplx.SMPLX) -> None:
    v, j = forward(body)
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.6 < height < 1.8 and height == pytest.approx(STANDIN_HEIGHT_M, abs=1e-3)
    assert j[PELVIS, 1] == pytest.approx(-0.35, abs=0.03)
    assert v[:, 1].min() == pytest.approx(-1.28, abs=0.02)
    assert j[HEAD, 1] > j[PELVIS, 1] > j[L_KNEE, 1] > j[L_ANKLE, 1]
    assert j[R_KNEE, 1] > j[R_ANKLE, 1]
    names = smplx.joint_names.JOINT_NAMES[:55]
    left = [i for i, n in enumerate(names) if n.startswith("left_")]
    right = [i for i, n in enumerate(names) if n.startswith("right_")]
    assert len(left) == len(right) == 24
    assert (j[left, 0] > 0.02).all() and (j[right, 0] < -0.02).all()
    np.testing.assert_allclose(j[left, 0], -j[right, 0], atol=1e-5)  # symmetric


def test_weights_regressor_and_tree(npz: dict[str, np.ndarray]) -> None:
    w, reg = npz["weights"].astype(np.float64), npz["J_regressor"].astype(np.float64)
    assert w.min() >= 0 and np.abs(w.sum(axis=1) - 1).max() < 1e-5
    assert reg.min() >= 0 and np.abs(reg.sum(axis=1) - 1).max() < 1e-5
    joints = reg @ npz["v_template"].astype(np.float64)
    assert np.linalg.norm(joints - rest_joints(), axis=1).max() < 1e-3
    kintree = npz["kintree_table"]
    assert kintree.dtype == np.int64
    assert kintree[0, 0] in (-1, 4294967295)
    assert kintree[0, 1:].tolist() == PARENTS[1:]
    assert kintree[1].tolist() == list(range(55))


def test_hand_components_orthonormal(npz: dict[str, np.ndarray]) -> None:
    for key in ("hands_componentsl", "hands_componentsr"):
        comp = npz[key].astype(np.float64)
        np.testing.assert_allclose(comp @ comp.T, np.eye(45), atol=1e-5)


def test_left_elbow_bend_moves_only_the_left_forearm(body: smplx.SMPLX) -> None:
    v0, j0 = forward(body)
    pose = np.zeros(63)
    pose[(L_ELBOW - 1) * 3:(L_ELBOW - 1) * 3 + 3] = [0.0, -math.pi / 2, 0.0]
    v1, j1 = forward(body, body_pose=pose)
    forearm = np.linalg.norm(j0[L_WRIST] - j0[L_ELBOW])
    assert 0.2 < forearm < 0.32
    assert np.linalg.norm(j1[L_WRIST] - j0[L_WRIST]) == pytest.approx(math.sqrt(2) * forearm,
                                                                      rel=1e-3)
    assert j1[L_WRIST, 2] > j0[L_WRIST, 2] + 0.2  # flexion brings the hand forward
    assert np.abs(j1[R_WRIST] - j0[R_WRIST]).max() < 1e-5
    assert np.abs(j1[HEAD] - j0[HEAD]).max() < 1e-5
    moved = np.linalg.norm(v1 - v0, axis=1) > 1e-5
    assert moved.sum() > 500
    assert v0[moved, 0].min() > j0[L_ELBOW, 0] - 0.06  # only near/after the left elbow


def test_jaw_opens_the_mouth(body: smplx.SMPLX) -> None:
    _, j0 = forward(body)
    _, j1 = forward(body, jaw_pose=np.array([0.3, 0.0, 0.0]))
    lower_lip, nose_bridge = NUM_EXTRA + 57 - 17, NUM_EXTRA + 27 - 17
    assert j1[lower_lip, 1] < j0[lower_lip, 1] - 0.005
    assert np.abs(j1[nose_bridge] - j0[nose_bridge]).max() < 1e-5


def test_stature_and_girth_betas(body: smplx.SMPLX) -> None:
    v0, _ = forward(body)

    def height(v: np.ndarray) -> float:
        return float(v[:, 1].max() - v[:, 1].min())

    def waist_extent(v: np.ndarray) -> np.ndarray:
        ring = (np.abs(v0[:, 1] + 0.24) < 0.015) & (np.abs(v0[:, 0]) < 0.2)
        return v[ring].max(axis=0) - v[ring].min(axis=0)

    tall, _ = forward(body, betas=np.eye(10)[0] * 2.0)
    assert height(tall) - height(v0) > 0.05
    wide, _ = forward(body, betas=np.eye(10)[1] * 2.0)
    growth = waist_extent(wide) - waist_extent(v0)
    assert growth[0] > 0.02 and growth[2] > 0.015
    assert abs(height(wide) - height(v0)) < 0.01


def test_expressions_move_only_the_head(body: smplx.SMPLX) -> None:
    v0, j0 = forward(body)
    for k in range(10):
        v1, _ = forward(body, expression=np.eye(10)[k] * 2.0)
        moved = np.linalg.norm(v1 - v0, axis=1) > 0
        assert moved.sum() > 30, k
        assert v0[moved, 1].min() > j0[NECK, 1], k
        assert np.abs(v0[moved, 0]).max() < 0.1, k


def test_extra_joints_at_anatomical_places(body: smplx.SMPLX) -> None:
    selector = body.vertex_joint_selector.extra_joints_idxs.tolist()
    ids = smplx.vertex_ids.vertex_ids["smplx"]
    assert selector == [ids[n] for n in EXTRA]  # the order this test relies on
    _, j = forward(body)
    x = {n: j[55 + i] for i, n in enumerate(EXTRA)}
    for tip in ("lthumb", "lindex", "lmiddle", "lring", "lpinky"):
        assert x[tip][0] > j[L_WRIST, 0] + 0.05, tip
        assert x["r" + tip[1:]][0] < j[R_WRIST, 0] - 0.05, tip
    assert x["lmiddle"][0] > x["lpinky"][0] and x["lindex"][2] > x["lpinky"][2]
    assert x["lthumb"][2] > x["lindex"][2]  # thumb forward of the index
    for side, ankle in (("L", L_ANKLE), ("R", R_ANKLE)):
        heel, big, small = x[side + "Heel"], x[side + "BigToe"], x[side + "SmallToe"]
        assert heel[1] < j[ankle, 1] - 0.03 and heel[2] < j[ankle, 2] - 0.03
        assert big[2] > j[ankle, 2] + 0.12 and small[2] > j[ankle, 2] + 0.1
        assert abs(big[0]) < abs(small[0])  # big toe medial
    nose, leye, reye = x["nose"], x["leye"], x["reye"]
    assert nose[2] > j[HEAD, 2] + 0.08 and reye[0] < nose[0] < leye[0]
    assert leye[2] > j[HEAD, 2] + 0.05 and abs(leye[1] - reye[1]) < 1e-5
    assert x["lear"][0] > j[HEAD, 0] + 0.06 and x["rear"][0] < j[HEAD, 0] - 0.06
    assert nose[1] < leye[1] < j[HEAD, 1] + 0.2


def test_face_landmarks_on_the_front_of_the_head(body: smplx.SMPLX,
                                                 npz: dict[str, np.ndarray]) -> None:
    bary = npz["lmk_bary_coords"]
    assert bary.min() >= 0 and np.abs(bary.sum(axis=1) - 1).max() < 1e-5
    assert (npz["dynamic_lmk_faces_idx"] == npz["dynamic_lmk_faces_idx"][:1]).all()
    v, j = forward(body)
    lmk = j[NUM_EXTRA:]
    assert lmk.shape == (51, 3)
    assert (lmk[:, 2] > j[HEAD, 2] + 0.04).all()  # on the front of the face
    assert (lmk[:, 1] > j[HEAD, 1]).all()  # above the chin (the head joint is below it)
    assert (lmk[:, 1] < v[:, 1].max() - 0.06).all()  # well below the crown
    assert lmk[:10, 1].max() < j[55 + EXTRA.index("leye"), 1] + 0.04  # brows near the eyes
    brows, mouth = lmk[:10], lmk[31:]
    assert (brows[:5, 0] < 0).all() and (brows[5:, 0] > 0).all()  # iBUG: person's right first
    assert brows[:, 1].min() > lmk[19:31, 1].max()  # brows above the eyes
    assert mouth[:, 1].max() < lmk[14:19, 1].min()  # mouth below the nostrils
