"""Hard z-buffer rasteriser: coverage, depth ordering, barycentrics, projection, bad input."""

from __future__ import annotations

import pytest
import torch

from robosmplx_core.render.zbuffer import Raster, project_to_raster, rasterize


def _tri(points: list[tuple[float, float, float]]) -> torch.Tensor:
    return torch.tensor([points], dtype=torch.float32)


def test_single_triangle_covers_expected_pixels() -> None:
    # right triangle with legs along x and y from (1.2, 1.2): covers centres (c, r) with
    # c >= 2, r >= 2 and c + r <= 8 (hypotenuse x + y = 8 passes through centres: inclusive).
    verts = _tri([(1.2, 1.2, 2.0), (6.8, 1.2, 2.0), (1.2, 6.8, 2.0)])
    raster = rasterize(verts, torch.tensor([[0, 1, 2]]), 8, 8)
    assert isinstance(raster, Raster)
    rows, cols = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    expected = (cols >= 2) & (rows >= 2) & (cols + rows <= 8)
    assert torch.equal(raster.mask[0], expected)
    assert torch.equal(raster.face_index[0][expected], torch.zeros(int(expected.sum()), dtype=torch.int64))
    assert torch.all(raster.depth[0][expected] == 2.0)
    assert torch.all(torch.isinf(raster.depth[0][~expected]))
    assert raster.face_index.dtype == torch.int64


def test_winding_does_not_matter_and_clipping_to_image() -> None:
    ccw = rasterize(_tri([(-5.0, -5.0, 1.0), (20.0, -5.0, 1.0), (-5.0, 20.0, 1.0)]), torch.tensor([[0, 1, 2]]), 6, 7)
    cw = rasterize(_tri([(-5.0, -5.0, 1.0), (20.0, -5.0, 1.0), (-5.0, 20.0, 1.0)]), torch.tensor([[0, 2, 1]]), 6, 7)
    assert ccw.face_index.shape == (1, 6, 7)
    assert torch.equal(ccw.mask, cw.mask)
    assert bool(ccw.mask.all())  # the triangle covers the whole 7x6 image


def test_depth_ordering_of_overlapping_triangles() -> None:
    verts = torch.tensor([[
        (0.0, 0.0, 3.0), (9.0, 0.0, 3.0), (0.0, 9.0, 3.0),  # far, face 0
        (0.0, 0.0, 1.0), (9.0, 0.0, 1.0), (0.0, 9.0, 1.0),  # near, face 1
    ]])
    for faces in (torch.tensor([[0, 1, 2], [3, 4, 5]]), torch.tensor([[3, 4, 5], [0, 1, 2]])):
        raster = rasterize(verts, faces, 10, 10)
        near = int(torch.nonzero(faces[:, 0] == 3)[0])
        assert torch.all(raster.face_index[0][raster.mask[0]] == near)
        assert torch.allclose(raster.depth[0][raster.mask[0]], torch.tensor(1.0))


def test_perspective_correct_depth_and_bary() -> None:
    verts = _tri([(0.0, 0.0, 1.0), (10.0, 0.0, 3.0), (0.0, 10.0, 1.0)])
    raster = rasterize(verts, torch.tensor([[0, 1, 2]]), 11, 11)
    # at pixel (r=0, c=5) screen weights are (0.5, 0.5, 0): 1/z = 0.5/1 + 0.5/3 -> z = 1.5
    assert float(raster.depth[0, 0, 5]) == pytest.approx(1.5, rel=1e-5)
    bary = raster.bary[0, 0, 5]
    assert torch.allclose(bary, torch.tensor([0.75, 0.25, 0.0]), atol=1e-5)
    assert torch.allclose(raster.bary[raster.mask].sum(-1), torch.ones(int(raster.mask.sum())), atol=1e-5)


def test_batch_and_behind_camera_faces() -> None:
    good = _tri([(0.0, 0.0, 1.0), (5.0, 0.0, 1.0), (0.0, 5.0, 1.0)])
    behind = _tri([(0.0, 0.0, -1.0), (5.0, 0.0, 1.0), (0.0, 5.0, 1.0)])
    raster = rasterize(torch.cat([good, behind]), torch.tensor([[0, 1, 2]]), 6, 6)
    assert raster.mask[0].any() and not raster.mask[1].any()


def test_large_and_tiny_faces_together() -> None:
    verts = torch.tensor([[(0.0, 0.0, 2.0), (199.0, 0.0, 2.0), (0.0, 199.0, 2.0),
                           (150.0, 150.0, 1.0), (150.6, 150.0, 1.0), (150.0, 150.6, 1.0)]])
    raster = rasterize(verts, torch.tensor([[0, 1, 2], [3, 4, 5]]), 200, 200)
    assert int((raster.face_index == 0).sum()) == 200 * 201 // 2
    assert int(raster.face_index[0, 150, 150]) == 1


def test_project_to_raster_matches_pixel_centres() -> None:
    K = torch.tensor([[100.0, 0.0, 32.0], [0.0, 100.0, 24.0], [0.0, 0.0, 1.0]])
    pts = torch.tensor([[[0.0, 0.0, 2.0], [0.2, -0.1, 2.0]]])
    out = project_to_raster(pts, K)
    assert out.shape == (1, 2, 3)
    # the optical axis hits the continuous image centre (32, 24) = the corner between pixels
    assert torch.allclose(out[0, 0], torch.tensor([31.5, 23.5, 2.0]))
    assert torch.allclose(out[0, 1], torch.tensor([31.5 + 10.0, 23.5 - 5.0, 2.0]))


def test_empty_faces() -> None:
    raster = rasterize(torch.zeros(2, 3, 3), torch.zeros(0, 3, dtype=torch.int64), 4, 5)
    assert raster.face_index.shape == (2, 4, 5) and not raster.mask.any()


@pytest.mark.parametrize(
    "verts, faces, size, match",
    [
        (torch.zeros(3, 3), torch.tensor([[0, 1, 2]]), (4, 4), "verts_px"),
        (torch.zeros(1, 3, 3), torch.tensor([[0, 1, 2]], dtype=torch.float32), (4, 4), "faces"),
        (torch.zeros(1, 3, 3), torch.tensor([[0, 1, 3]]), (4, 4), r"\[0, 3\)"),
        (torch.zeros(1, 3, 3), torch.tensor([[0, 1, 2]]), (0, 4), "height, width"),
        (torch.zeros(1, 3, 3, dtype=torch.int64), torch.tensor([[0, 1, 2]]), (4, 4), "floating"),
    ],
)
def test_bad_input_raises(verts: torch.Tensor, faces: torch.Tensor, size: tuple[int, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        rasterize(verts, faces, *size)
