"""Joint names, kinematic tree and keypoint maps, checked against the installed smplx and
mediapipe packages and against the Hand4Whole / OSX 137-keypoint definition."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from robosmplx_core.body_model import joints as J
from robosmplx_core.body_model import keypoint_sets as KS


def _names_at(indices, names=J.SMPLX_144_NAMES):
    return [names[i] if i >= 0 else None for i in indices]


def _mirror(name: str) -> str:
    return name.replace("left", "\0").replace("right", "left").replace("\0", "right")


# ----------------------------------------------------------------------------- SMPL-X lists


def test_lengths_and_unique_names():
    sets = {
        "SMPLX_JOINT_NAMES": (J.SMPLX_JOINT_NAMES, 55),
        "SMPLX_127_NAMES": (J.SMPLX_127_NAMES, 127),
        "SMPLX_144_NAMES": (J.SMPLX_144_NAMES, 144),
        "WHOLEBODY137_NAMES": (KS.WHOLEBODY137_NAMES, 137),
        "COCO_WHOLEBODY_NAMES": (KS.COCO_WHOLEBODY_NAMES, 133),
        "MEDIAPIPE_POSE_NAMES": (KS.MEDIAPIPE_POSE_NAMES, 33),
        "MEDIAPIPE_HAND_NAMES": (KS.MEDIAPIPE_HAND_NAMES, 21),
        "SMPLX_LEFT_HAND21_NAMES": (KS.SMPLX_LEFT_HAND21_NAMES, 21),
    }
    for label, (names, n) in sets.items():
        assert len(names) == n, label
        assert len(set(names)) == n, f"{label} repeats a name"
    assert len(J.SMPLX_PARENTS) == J.NUM_SMPLX_JOINTS == 55


def test_smplx_lists_match_installed_smplx_constants():
    from smplx.joint_names import JOINT_NAMES, SMPLH_JOINT_NAMES

    assert len(JOINT_NAMES) == 144
    assert J.SMPLX_127_NAMES == tuple(JOINT_NAMES[:127])
    assert J.SMPLX_144_NAMES == tuple(JOINT_NAMES)
    # SMPL-H shares the body (22) and hand (30) joints in the same order.
    assert J.SMPLX_JOINT_NAMES[:22] + J.SMPLX_JOINT_NAMES[25:] == tuple(SMPLH_JOINT_NAMES[:52])


def test_vertex_joint_order_matches_vertex_joint_selector():
    from smplx.vertex_ids import vertex_ids
    from smplx.vertex_joint_selector import VertexJointSelector

    ids = vertex_ids["smplx"]
    selector = VertexJointSelector(vertex_ids=ids, use_hands=True, use_feet_keypoints=True)
    key = {"right_eye": "reye", "left_eye": "leye", "right_ear": "rear", "left_ear": "lear"}
    for side, s in (("left", "L"), ("right", "R")):
        for part, vid in (("big_toe", "BigToe"), ("small_toe", "SmallToe"), ("heel", "Heel")):
            key[f"{side}_{part}"] = f"{s}{vid}"
        for finger in ("thumb", "index", "middle", "ring", "pinky"):
            key[f"{side}_{finger}"] = f"{side[0]}{finger}"
    expected = [ids[key.get(name, name)] for name in J.SMPLX_VERTEX_JOINT_NAMES]
    assert selector.extra_joints_idxs.tolist() == expected


def test_smplx_forward_appends_vertex_joints_then_landmarks_then_contour():
    from smplx.body_models import SMPLX

    src = inspect.getsource(SMPLX.forward)
    contour = src.index("dyn_lmk_faces_idx], 1)")
    selector = src.index("joints = self.vertex_joint_selector(vertices, joints)")
    landmarks = src.index("joints = torch.cat([joints, landmarks], dim=1)")
    assert contour < selector < landmarks  # contour landmarks come after the 51 static ones
    assert J.SMPLX_144_NAMES.index("right_contour_1") == 127


def test_parents_form_the_smplx_tree():
    names, parents = J.SMPLX_JOINT_NAMES, J.SMPLX_PARENTS
    assert parents[0] == -1 and all(0 <= p < i for i, p in enumerate(parents) if i > 0)
    parent_of = {names[i]: names[p] for i, p in enumerate(parents) if p >= 0}
    body = {
        "left_hip": "pelvis", "right_hip": "pelvis", "spine1": "pelvis", "left_knee": "left_hip",
        "right_knee": "right_hip", "spine2": "spine1", "left_ankle": "left_knee",
        "right_ankle": "right_knee", "spine3": "spine2", "left_foot": "left_ankle",
        "right_foot": "right_ankle", "neck": "spine3", "left_collar": "spine3",
        "right_collar": "spine3", "head": "neck", "left_shoulder": "left_collar",
        "right_shoulder": "right_collar", "left_elbow": "left_shoulder",
        "right_elbow": "right_shoulder", "left_wrist": "left_elbow", "right_wrist": "right_elbow",
        "jaw": "head", "left_eye_smplhf": "head", "right_eye_smplhf": "head",
    }  # fmt: skip
    for side in ("left", "right"):
        for finger in ("index", "middle", "pinky", "ring", "thumb"):
            body[f"{side}_{finger}1"] = f"{side}_wrist"
            body[f"{side}_{finger}2"] = f"{side}_{finger}1"
            body[f"{side}_{finger}3"] = f"{side}_{finger}2"
    assert parent_of == body


def test_parents_match_real_model_kintree_when_available():
    root = os.environ.get("ROBOSMPLX_MODEL_DIR")
    files = [Path(root) / "smplx" / "SMPLX_NEUTRAL.npz", Path(root) / "SMPLX_NEUTRAL.npz"] if root else []
    found = [f for f in files if f.is_file()]
    if not found:
        pytest.skip("set ROBOSMPLX_MODEL_DIR to the licensed SMPL-X files to run this check")
    kintree = np.load(found[0], allow_pickle=False)["kintree_table"]
    parents = kintree[0].astype(np.int64)
    parents[0] = -1  # the files store 2**32 - 1 for the root
    assert tuple(parents.tolist()) == J.SMPLX_PARENTS


# -------------------------------------------------------------------------------- helpers


def test_index_map_and_gather_joints():
    idx = J.index_map(["a", "b", "c"], ["c", "x", "a"])
    assert idx.dtype == np.int64 and idx.tolist() == [2, -1, 0]
    with pytest.raises(ValueError, match="src_names: names must be unique"):
        J.index_map(["a", "a"], ["a"])
    joints = torch.arange(2 * 3 * 3, dtype=torch.float32).reshape(2, 3, 3)
    values, valid = J.gather_joints(joints, idx)
    assert values.shape == (2, 3, 3) and valid.tolist() == [True, False, True]
    torch.testing.assert_close(values[:, 0], joints[:, 2])
    assert (values[:, 1] == 0).all()
    values_np, valid_np = J.gather_joints(joints.numpy(), idx)
    np.testing.assert_array_equal(values_np, values.numpy())
    assert valid_np.tolist() == [True, False, True]
    with pytest.raises(ValueError, match="use_face_contour"):
        J.gather_joints(torch.zeros(1, 127, 3), KS.WHOLEBODY137_TO_SMPLX144)


def test_maps_are_read_only():
    with pytest.raises(ValueError):
        KS.WHOLEBODY137_TO_SMPLX144[0] = 3


# ------------------------------------------------------------------------------ 137 set

# Hand4Whole / OSX ``SMPLX.flip_pairs`` of the 137 set (common/utils/human_models.py).
H4W_FLIP_PAIRS = (
    (1, 2), (3, 4), (5, 6), (8, 9), (10, 11), (12, 13), (14, 17), (15, 18), (16, 19), (20, 21),
    (22, 23), *((25 + k, 45 + k) for k in range(20)), (67, 68), (69, 78), (70, 77), (71, 76),
    (72, 75), (73, 74), (83, 87), (84, 86), (88, 97), (89, 96), (90, 95), (91, 94), (92, 99),
    (93, 98), (100, 106), (101, 105), (102, 104), (107, 111), (108, 110), (112, 116), (113, 115),
    (117, 119), (120, 136), (121, 135), (122, 134), (123, 133), (124, 132), (125, 131),
    (126, 130), (127, 129),
)  # fmt: skip


def test_wholebody137_indices_agree_with_names():
    alias = {"left_eyeball": "left_eye", "right_eyeball": "right_eye"}
    by_name = J.index_map(J.SMPLX_144_NAMES, [alias.get(n, n) for n in KS.WHOLEBODY137_NAMES])
    np.testing.assert_array_equal(by_name, KS.WHOLEBODY137_TO_SMPLX144)
    assert (KS.WHOLEBODY137_TO_SMPLX144 >= 0).all()
    assert (KS.WHOLEBODY137_TO_SMPLX127 == -1).sum() == 17


def test_wholebody137_parts_and_flip_pairs_match_hand4whole():
    names = KS.WHOLEBODY137_NAMES
    assert names[KS.WHOLEBODY137_BODY][-1] == "nose" and names[0] == "pelvis"
    assert all(n.startswith("left_") for n in names[KS.WHOLEBODY137_LEFT_HAND])
    assert all(n.startswith("right_") for n in names[KS.WHOLEBODY137_RIGHT_HAND])
    assert len(names[KS.WHOLEBODY137_FACE]) == 72 and names[65:67] == ("jaw", "head")
    derived = {
        tuple(sorted((i, names.index(_mirror(n))))) for i, n in enumerate(names) if _mirror(n) != n
    }
    assert derived == set(H4W_FLIP_PAIRS)


# ---------------------------------------------------------------------------- COCO-WholeBody


def test_coco_wholebody_map_points_at_the_right_joints():
    names = dict(zip(KS.COCO_WHOLEBODY_NAMES, _names_at(KS.COCO_WHOLEBODY_TO_SMPLX144)))
    expected = {
        "nose": "nose", "left_eye": "left_eye", "right_ear": "right_ear",
        "left_wrist": "left_wrist", "right_ankle": "right_ankle", "left_heel": "left_heel",
        "right_big_toe": "right_big_toe", "face-0": "right_contour_1", "face-8": "contour_middle",
        "face-16": "left_contour_1", "face-17": "right_eye_brow1", "face-30": "nose4",
        "face-36": "right_eye1", "face-45": "left_eye1", "face-48": "right_mouth_1",
        "face-54": "left_mouth_1", "face-62": "lip_top", "face-67": "right_lip_3",
        "left_hand_root": "left_wrist", "left_thumb1": "left_thumb1", "left_thumb4": "left_thumb",
        "left_forefinger1": "left_index1", "right_middle_finger3": "right_middle3",
        "right_ring_finger4": "right_ring", "right_pinky_finger2": "right_pinky2",
    }  # fmt: skip
    assert {k: names[k] for k in expected} == expected
    assert (KS.COCO_WHOLEBODY_TO_SMPLX144 >= 0).all()
    in127 = KS.COCO_WHOLEBODY_TO_SMPLX127
    assert (in127 == -1).sum() == 17 and in127[KS.COCO_WHOLEBODY_NAMES.index("face-20")] >= 0


# -------------------------------------------------------------------------------- MediaPipe


@pytest.fixture(scope="module")
def mp_solutions():
    mp = pytest.importorskip("mediapipe")
    return mp.solutions


def test_mediapipe_enum_orders_match_installed_mediapipe(mp_solutions):
    assert KS.MEDIAPIPE_POSE_NAMES == tuple(l.name.lower() for l in mp_solutions.pose.PoseLandmark)
    assert KS.MEDIAPIPE_HAND_NAMES == tuple(l.name.lower() for l in mp_solutions.hands.HandLandmark)
    fm = mp_solutions.face_mesh
    assert KS.MEDIAPIPE_FACE_MESH_NUM_LANDMARKS == fm.FACEMESH_NUM_LANDMARKS == 468
    assert KS.MEDIAPIPE_FACE_MESH_NUM_LANDMARKS_WITH_IRISES == fm.FACEMESH_NUM_LANDMARKS_WITH_IRISES


def test_mediapipe_face_mesh_indices_lie_in_the_named_regions(mp_solutions):
    fm = mp_solutions.face_mesh
    nodes = lambda edges: {i for edge in edges for i in edge}  # noqa: E731
    idx = KS.MEDIAPIPE_FACE_MESH_INDEX
    region = {
        "nose_tip": fm.FACEMESH_NOSE, "chin": fm.FACEMESH_FACE_OVAL, "forehead": fm.FACEMESH_FACE_OVAL,
        "left_eye_outer": fm.FACEMESH_LEFT_EYE, "left_eye_inner": fm.FACEMESH_LEFT_EYE,
        "right_eye_outer": fm.FACEMESH_RIGHT_EYE, "right_eye_inner": fm.FACEMESH_RIGHT_EYE,
        "left_brow_inner": fm.FACEMESH_LEFT_EYEBROW, "left_brow_outer": fm.FACEMESH_LEFT_EYEBROW,
        "right_brow_inner": fm.FACEMESH_RIGHT_EYEBROW, "right_brow_outer": fm.FACEMESH_RIGHT_EYEBROW,
    }  # fmt: skip
    region.update({k: fm.FACEMESH_LIPS for k in idx if "mouth" in k or "lip" in k})
    for name, edges in region.items():
        assert idx[name] in nodes(edges), name
    # Iris centres are the index before each iris ring (468 + 1..4, 473 + 1..4).
    assert nodes(fm.FACEMESH_RIGHT_IRIS) == set(range(idx["right_iris_center"] + 1, 473))
    assert nodes(fm.FACEMESH_LEFT_IRIS) == set(range(idx["left_iris_center"] + 1, 478))
    assert set(KS.MEDIAPIPE_FACE_MESH_TO_SMPLX_NAMES) <= set(idx)
    assert set(KS.MEDIAPIPE_FACE_MESH_TO_SMPLX_NAMES.values()) <= set(J.SMPLX_144_NAMES)


def test_mediapipe_maps_point_at_the_right_joints():
    pose = dict(zip(KS.MEDIAPIPE_POSE_NAMES, _names_at(KS.MEDIAPIPE_POSE_TO_SMPLX127)))
    assert pose["left_wrist"] == "left_wrist" and pose["right_knee"] == "right_knee"
    assert pose["left_foot_index"] == "left_big_toe" and pose["right_heel"] == "right_heel"
    assert pose["left_eye_outer"] == "left_eye1" and pose["mouth_right"] == "right_mouth_1"
    assert pose["left_pinky"] is None and pose["right_thumb"] is None
    assert sum(v is not None for v in pose.values()) == 27
    tables = {"left": KS.MEDIAPIPE_HAND_TO_SMPLX127_LEFT, "right": KS.MEDIAPIPE_HAND_TO_SMPLX127_RIGHT}
    for side, table in tables.items():
        hand = dict(zip(KS.MEDIAPIPE_HAND_NAMES, _names_at(table)))
        assert hand["wrist"] == f"{side}_wrist"
        assert [hand[f"thumb_{j}"] for j in ("cmc", "mcp", "ip", "tip")] == [
            f"{side}_thumb1", f"{side}_thumb2", f"{side}_thumb3", f"{side}_thumb"
        ]
        assert [hand[f"index_finger_{j}"] for j in ("mcp", "pip", "dip", "tip")] == [
            f"{side}_index1", f"{side}_index2", f"{side}_index3", f"{side}_index"
        ]
        assert hand["pinky_dip"] == f"{side}_pinky3" and hand["ring_finger_tip"] == f"{side}_ring"
        assert (table >= 0).all()
