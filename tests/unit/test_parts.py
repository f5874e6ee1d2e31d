"""Part labels of the body, hand and face specs on the stand-in model."""

from __future__ import annotations

import pytest
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.parts import (
    BODY_PART_NAMES, FACE_PART_NAMES, HAND_PART_NAMES, face_labels_from_vertices, mirror_permutation,
    part_labels,
)
from robosmplx_core.nets.specs import PART_SPECS
from robosmplx_core.types import SMPLXParams


@pytest.fixture(scope="module")
def model() -> BodyModel:
    return BodyModel.load()


def test_names_match_the_specs() -> None:
    assert len(BODY_PART_NAMES) == PART_SPECS["body"].num_parts == 24
    assert len(HAND_PART_NAMES) == PART_SPECS["hand"].num_parts == 16
    assert len(FACE_PART_NAMES) == PART_SPECS["face"].num_parts == 15
    assert BODY_PART_NAMES[22:] == ("left_hand", "right_hand") and HAND_PART_NAMES[:2] == ("wrist", "index1")


def test_body_labels_cover_every_vertex_and_part(model: BodyModel) -> None:
    labels = part_labels(model, "body")
    v = labels.vertex_labels
    assert v.shape == (model.layer.lbs_weights.shape[0],) and v.dtype == torch.int64
    assert int(v.min()) == 0 and int(v.max()) == 23
    assert torch.bincount(v, minlength=24).gt(0).all()
    counts = torch.bincount(v, minlength=24)
    for i, j in enumerate(labels.flip_permutation):  # the stand-in is left/right symmetric
        assert counts[i] == counts[j]
    assert labels.face_labels.shape == (model.faces.shape[0],)


def test_hand_and_face_labels_are_subsets(model: BodyModel) -> None:
    body = part_labels(model, "body").vertex_labels
    hand = part_labels(model, "hand").vertex_labels
    face = part_labels(model, "face").vertex_labels
    assert set(torch.unique(hand).tolist()) == set(range(-1, 16))
    assert set(torch.unique(face).tolist()) == set(range(-1, 15))
    right = [BODY_PART_NAMES.index("right_wrist"), BODY_PART_NAMES.index("right_hand")]
    assert torch.isin(body[hand >= 0], torch.tensor(right)).all()
    assert torch.equal(hand[body == BODY_PART_NAMES.index("right_wrist")],
                       torch.zeros(int((body == BODY_PART_NAMES.index("right_wrist")).sum()), dtype=torch.int64))
    assert (body[face >= 0] == BODY_PART_NAMES.index("head")).all()


def test_face_regions_are_on_the_right_side(model: BodyModel) -> None:
    with torch.no_grad():
        verts = model(SMPLXParams.zeros(1)).vertices[0]
    face = part_labels(model, "face").vertex_labels

    def centre(name: str) -> torch.Tensor:
        return verts[face == FACE_PART_NAMES.index(name)].mean(0)

    assert centre("left_eye")[0] > 0 > centre("right_eye")[0]  # model +x = subject's left
    assert centre("left_ear")[0] > 0 > centre("right_ear")[0]
    assert centre("scalp")[1] > centre("forehead")[1] > centre("nose")[1] > centre("chin")[1]
    assert centre("nose")[2] > centre("back_of_head")[2]


def test_cached_and_deterministic(model: BodyModel) -> None:
    assert part_labels(model, "face") is part_labels(model, "face")
    again = BodyModel.load()
    assert torch.equal(part_labels(again, "face").vertex_labels, part_labels(model, "face").vertex_labels)


def test_face_label_majority() -> None:
    labels = torch.tensor([0, 0, 1, 2, 2])
    faces = torch.tensor([[0, 1, 2], [2, 3, 4], [1, 2, 3], [2, 0, 1]])
    assert face_labels_from_vertices(labels, faces).tolist() == [0, 2, 0, 0]


def test_mirror_permutation() -> None:
    perm = mirror_permutation(["pelvis", "left_hip", "right_hip", "left_eye_brow1", "right_eye_brow1"])
    assert perm == [0, 2, 1, 4, 3]
    for names in (BODY_PART_NAMES, FACE_PART_NAMES, PART_SPECS["body"].joint_names, PART_SPECS["face"].joint_names):
        p = mirror_permutation(names)
        assert [p[i] for i in p] == list(range(len(names)))
    with pytest.raises(ValueError, match="unique"):
        mirror_permutation(["a", "a"])


def test_unknown_part_raises(model: BodyModel) -> None:
    with pytest.raises(ValueError, match="expected one of"):
        part_labels(model, "torso")
