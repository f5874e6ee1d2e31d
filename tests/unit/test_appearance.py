"""Front/back cues of the synthetic people: face marks, neckline, chest print, hair."""

from __future__ import annotations

import pytest
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.joints import SMPLX_127_NAMES
from robosmplx_core.body_model.parts import BODY_PART_NAMES, part_labels
from robosmplx_core.data import appearance
from robosmplx_core.data.appearance import FACE_MARKS, LightingConfig, clothing_albedo, face_marks, hair_vertices
from robosmplx_core.data.sampling import PoseSamplingConfig
from robosmplx_core.data.synthetic import SyntheticConfig, SyntheticDataset
from robosmplx_core.types import SMPLXParams


@pytest.fixture(scope="module")
def rest(model: BodyModel) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        out = model(SMPLXParams.zeros(1, num_betas=model.num_betas, num_expression=model.num_expression))
    labels = part_labels(model, "body").vertex_labels
    return {"verts": out.vertices[0], "joints": out.joints[0], "labels": labels,
            "marks": face_marks(out.vertices[0], out.joints[0], labels),
            "hair": hair_vertices(out.vertices[0], labels)}


def _code(name: str) -> int:
    return FACE_MARKS.index(name)


def test_face_marks_sit_on_the_front_of_the_head_and_torso(rest: dict[str, torch.Tensor]) -> None:
    marks, verts, labels, joints = rest["marks"], rest["verts"], rest["labels"], rest["joints"]
    head = labels == BODY_PART_NAMES.index("head")
    head_z = joints[SMPLX_127_NAMES.index("head"), 2]
    for name in ("eye", "brow", "lip"):
        on = marks == _code(name)
        assert int(on.sum()) >= 6, name
        assert bool(head[on].all()) and bool((verts[on, 2] > head_z).all()), name
        # both sides of the face: the marks are mirror-symmetric about x = 0
        left, right = int((verts[on, 0] > 0).sum()), int((verts[on, 0] < 0).sum())
        assert abs(left - right) <= 0.25 * max(left, right), (name, left, right)
    eyes = verts[marks == _code("eye")]
    lips = verts[marks == _code("lip")]
    assert float(eyes[:, 1].mean()) > float(lips[:, 1].mean()) + 0.03  # eyes above the mouth
    torso_parts = torch.tensor([BODY_PART_NAMES.index(n) for n in
                                ("spine1", "spine2", "spine3", "left_collar", "right_collar")])
    for name in ("neckline", "print"):
        on = marks == _code(name)
        assert int(on.sum()) >= 10, name
        assert bool(torch.isin(labels[on], torso_parts).all()) and bool((verts[on, 2] > 0).all()), name
    # the back of the head carries no face, and the hair never covers a face mark
    assert not bool(((marks > 0) & (verts[:, 2] < head_z) & head).any())
    assert not bool((rest["hair"] & (marks > 0)).any())


def test_albedo_paints_the_marks(rest: dict[str, torch.Tensor]) -> None:
    marks, labels = rest["marks"], rest["labels"]
    quiet = dict(texture_noise=0.0, hair_prob=0.0)
    top = labels == BODY_PART_NAMES.index("spine3")
    printed = marks == _code("print")
    for prob, expect_print in ((1.0, True), (0.0, False)):
        cfg = LightingConfig(print_prob=prob, **quiet)
        albedo = clothing_albedo(torch.Generator().manual_seed(3), labels, cfg, None, marks)
        plain = clothing_albedo(torch.Generator().manual_seed(3), labels, cfg, None, None)
        skin = plain[labels == BODY_PART_NAMES.index("head")][0]
        eye = albedo[marks == _code("eye")]
        assert float(eye.max()) < float(skin.min()) and float(eye.max()) <= 0.25  # dark eyes on skin
        neckline = albedo[marks == _code("neckline")]
        assert torch.allclose(neckline, skin.expand_as(neckline), atol=0.06)  # the skin, not the top
        lip = albedo[marks == _code("lip")][0]
        assert float(lip[0] - lip[1]) > float(skin[0] - skin[1])  # redder than the skin
        top_colour = plain[top & ~printed & (marks == 0)][0]
        differs = not torch.allclose(albedo[printed], top_colour.expand_as(albedo[printed]), atol=0.06)
        assert differs == expect_print, prob
        # unmarked vertices are untouched
        assert torch.equal(albedo[marks == 0], plain[marks == 0])


def test_face_marks_bad_input() -> None:
    with pytest.raises(ValueError, match="face landmarks"):
        face_marks(torch.zeros(10, 3), torch.zeros(55, 3), torch.zeros(10, dtype=torch.int64))
    with pytest.raises(ValueError, match="print_prob"):
        LightingConfig(print_prob=1.5)
    assert appearance.FACE_MARKS[0] == "none"


@pytest.mark.parametrize("yaw, seen", [(0.0, True), (180.0, False)])
def test_rendered_people_show_the_marks_only_from_the_front(model: BodyModel, yaw: float, seen: bool) -> None:
    """The same sample with and without the marks: the images differ (around the face) when the
    person faces the camera and are identical when the camera sees their back."""
    config = SyntheticConfig(seed=5, image_size=192, pose=PoseSamplingConfig(yaw_deg=(yaw, yaw), pitch_deg=(0.0, 0.0),
                                                                              roll_deg=(0.0, 0.0), pose_scale=0.2))
    ds = SyntheticDataset(config=config, model=model)
    sample = ds[0]
    ds.marks = torch.zeros_like(ds.marks)
    plain = ds[0]
    changed = (sample.image - plain.image).abs().amax(dim=0) > 1e-6
    assert bool(changed.any()) == seen
    if seen:  # some of the change is on the face
        cx, cy, side = sample.face_box_cxcys.tolist()
        ys, xs = torch.nonzero(changed, as_tuple=True)
        on_face = ((xs - cx).abs() < side / 2) & ((ys - cy).abs() < side / 2)
        assert int(on_face.sum()) >= 5
