"""Soft rasteriser (render/soft.py): agreement with the hard z-buffer, part probabilities,
float64 finite-difference gradients, chunking, back faces, empty inputs and input errors."""

import math

import pytest
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.geometry import axis_angle_to_matrix, intrinsics_from_fov
from robosmplx_core.render.differentiable import RASTERIZERS, make_soft_rasterizer, pytorch3d_available
from robosmplx_core.render.pytorch3d_backend import pixels_to_ndc
from robosmplx_core.render.soft import SoftRasterizer, soft_rasterize
from robosmplx_core.render.zbuffer import project_to_raster, rasterize
from robosmplx_core.types import SMPLXParams

SIZE = 256


def iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a & b).sum()) / max(1, int((a | b).sum()))


@pytest.fixture(scope="module")
def body() -> dict:
    """The stand-in SMPL-X, posed (arms down, a knee bent, head turned), 3 m in front of a
    camera whose 256 px image it fills; faces labelled by their first vertex's main joint."""
    model = BodyModel.load()
    pose = torch.zeros(1, 21, 3)
    pose[0, 15, 2], pose[0, 16, 2] = -0.9, 0.9  # shoulders
    pose[0, 3, 0], pose[0, 14, 1] = 0.8, 0.5  # left knee, head
    params = SMPLXParams.from_axis_angle(  # pi about x: model y up -> camera y down, facing the camera
        body_pose=pose, global_orient=torch.tensor([[math.pi, 0.0, 0.0]]), transl=torch.tensor([[0.0, 0.3, 3.0]]))
    with torch.no_grad():
        verts = model(params).vertices
    K = intrinsics_from_fov(SIZE, SIZE, 42.0)
    faces = torch.as_tensor(model.faces)
    labels = model.layer.lbs_weights.argmax(dim=1)[faces[:, 0]]
    return {"verts_px": project_to_raster(verts, K), "faces": faces, "labels": labels}


def cube(*, angle: float = 0.6, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """A unit cube (outward normals, 12 faces) 4 m away, turned about x and y: (1, 8, 3), (12, 3)."""
    corners = torch.tensor([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
    faces = torch.tensor([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                          [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    rot = axis_angle_to_matrix(torch.tensor([[angle, angle * 0.7, 0.0]]))[0]
    cam = corners @ rot.T + torch.tensor([0.0, 0.0, 4.0])
    return project_to_raster(cam[None], intrinsics_from_fov(size, size, 30.0)), faces


def test_body_silhouette_and_parts_match_zbuffer(body) -> None:
    hard = rasterize(body["verts_px"], body["faces"], SIZE, SIZE)
    out = SoftRasterizer(height=SIZE, width=SIZE, sigma=0.1, near=1.0, far=5.0)(
        body["verts_px"], body["faces"], body["labels"], num_parts=55)
    soft = out.silhouette > 0.5
    assert int(hard.mask.sum()) > 5000 and iou(soft, hard.mask) > 0.9
    both = soft & hard.mask
    hard_labels = body["labels"][hard.face_index.clamp(min=0)]
    assert float((out.part_probs.argmax(dim=1)[both] - 1 == hard_labels[both]).float().mean()) > 0.9
    default = SoftRasterizer(height=SIZE, width=SIZE)(body["verts_px"], body["faces"]).silhouette > 0.5
    assert iou(default, hard.mask) > 0.85  # the default blur (0.25 px^2) widens the boundary by ~0.3 px


def test_part_probs_sum_to_one(body) -> None:
    out = soft_rasterize(body["verts_px"], body["faces"], body["labels"], height=SIZE, width=SIZE, num_parts=55)
    probs = out.part_probs
    assert probs.shape == (1, 56, SIZE, SIZE) and float(probs.min()) >= 0.0
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(1, SIZE, SIZE))
    torch.testing.assert_close(probs[:, 0], 1.0 - out.silhouette)


def test_cube_matches_zbuffer_and_culling_keeps_front_faces() -> None:
    verts, faces = cube()
    side = torch.arange(12) // 2  # the cube's six sides as parts
    hard = rasterize(verts, faces, 64, 64)
    hard_side = side[hard.face_index.clamp(min=0)][hard.mask]
    assert int(hard.mask.sum()) > 300

    def visible_side_agreement(winding: torch.Tensor, cull: bool) -> float:
        out = SoftRasterizer(height=64, width=64, cull_backfaces=cull, near=1.0, far=6.0)(
            verts, winding, side, num_parts=6)
        assert iou(out.silhouette > 0.5, hard.mask) > 0.95  # either side of a closed mesh: same outline
        return float(((out.part_probs.argmax(dim=1) - 1)[hard.mask] == hard_side).float().mean())

    assert visible_side_agreement(faces, cull=False) > 0.85  # misses: ~1 px bands along the creases
    assert visible_side_agreement(faces.flip(1), cull=False) > 0.85
    assert visible_side_agreement(faces, cull=True) > 0.85
    assert visible_side_agreement(faces.flip(1), cull=True) < 0.3  # reversed winding: the far sides show
    verts2, faces2, _ = two_triangles(torch.float32)  # both counter-clockwise on screen: front-facing
    culled = SoftRasterizer(height=16, width=16, cull_backfaces=True)
    assert float(culled(verts2, faces2).silhouette.max()) > 0.9
    assert float(culled(verts2, faces2.flip(1)).silhouette.max()) == 0.0


def test_depth_softmax_picks_nearer_part() -> None:
    quad = torch.tensor([[2.0, 2.0], [13.0, 2.0], [13.0, 13.0], [2.0, 13.0]])
    verts = torch.cat([torch.cat([quad, torch.full((4, 1), z)], 1) for z in (2.0, 1.0)])[None]
    faces = torch.tensor([[0, 3, 2], [0, 2, 1], [4, 7, 6], [4, 6, 5]])
    out = soft_rasterize(verts, faces, torch.tensor([0, 0, 1, 1]), height=16, width=16, num_parts=2,
                         near=0.5, far=3.0)
    near_share = out.part_probs[0, 2] / out.silhouette[0]
    assert float(near_share[3:13, 3:13].min()) > 0.99  # the quad at 1 m hides the one at 2 m


def two_triangles(dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    verts = torch.tensor([[[2.3, 2.6, 1.1], [12.4, 3.2, 1.3], [4.1, 13.3, 0.9], [13.2, 12.7, 2.1]]], dtype=dtype)
    return verts, torch.tensor([[0, 2, 1], [1, 2, 3]]), torch.tensor([0, 1])


def test_gradcheck_float64() -> None:
    verts, faces, labels = two_triangles()
    rasterizer = SoftRasterizer(height=16, width=16, sigma=0.8, gamma=0.02, near=0.5, far=3.0)

    def render(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = rasterizer(v, faces, labels, num_parts=2)
        return out.silhouette, out.part_probs

    assert torch.autograd.gradcheck(render, (verts.requires_grad_(),), eps=1e-6, atol=1e-5, rtol=1e-3)


def test_chunks_and_checkpointing_give_the_same_result() -> None:
    verts, faces, labels = two_triangles(torch.float32)
    outs, grads = [], []
    for chunk in (1 << 22, 37):
        v = verts.clone().requires_grad_()
        out = SoftRasterizer(height=16, width=16, chunk_pairs=chunk, near=0.5, far=3.0)(v, faces, labels, num_parts=2)
        (out.silhouette.square().sum() + out.part_probs[:, 1].sum()).backward()
        outs.append(out.part_probs.detach())
        grads.append(v.grad)
    torch.testing.assert_close(outs[0], outs[1])
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-4)  # float32 summation order


def test_empty_batch_no_faces_and_offscreen() -> None:
    verts, faces, labels = two_triangles(torch.float32)
    out = soft_rasterize(verts[:0], faces, labels, height=8, width=6, num_parts=2)
    assert out.silhouette.shape == (0, 8, 6) and out.part_probs.shape == (0, 3, 8, 6)
    out = soft_rasterize(verts, faces[:0], labels[:0], height=8, width=6, num_parts=2)
    assert float(out.silhouette.abs().max()) == 0.0 and bool((out.part_probs[:, 0] == 1).all())
    v = (verts + torch.tensor([100.0, 0.0, 0.0])).requires_grad_()
    soft_rasterize(v, faces, height=8, width=6).silhouette.sum().backward()  # nothing drawn, still differentiable
    assert float(v.grad.abs().max()) == 0.0
    v = verts.clone()
    v[0, 3, 2] = 0.0  # a vertex on the camera plane: its face is dropped, gradients stay finite
    v.requires_grad_()
    out = soft_rasterize(v, faces, labels, height=16, width=16, num_parts=2)
    (out.silhouette.sum() + out.part_probs[:, 2].sum()).backward()
    assert bool(torch.isfinite(v.grad).all()) and float(v.grad[0, :3].abs().max()) > 0.0


@pytest.mark.parametrize("call, message", [
    (lambda v, f, l: soft_rasterize(v[0], f, height=8, width=8), r"verts_px: expected shape \(B, V, 3\)"),
    (lambda v, f, l: soft_rasterize(v.long(), f, height=8, width=8), "verts_px: expected a float"),
    (lambda v, f, l: soft_rasterize(v, f.int(), height=8, width=8), "faces: expected an int64"),
    (lambda v, f, l: soft_rasterize(v, f + 2, height=8, width=8), r"faces: vertex indices must lie in \[0, 4\)"),
    (lambda v, f, l: soft_rasterize(v, f, l, height=8, width=8), "num_parts: expected a positive"),
    (lambda v, f, l: soft_rasterize(v, f, l, height=8, width=8, num_parts=1), "raise num_parts"),
    (lambda v, f, l: soft_rasterize(v, f, l[:1], height=8, width=8, num_parts=2), "face_labels: expected shape"),
    (lambda v, f, l: soft_rasterize(v * float("nan"), f, height=8, width=8), "NaN"),
    (lambda v, f, l: SoftRasterizer(height=8, width=8, near=2.0, far=1.0), "0 < near < far"),
    (lambda v, f, l: SoftRasterizer(height=0, width=8), "positive image size"),
    (lambda v, f, l: make_soft_rasterizer("opengl", height=8, width=8), r"one of \['pytorch3d', 'torch'\]"),
])
def test_bad_inputs_raise_helpful_errors(call, message) -> None:
    verts, faces, labels = two_triangles(torch.float32)
    with pytest.raises(ValueError, match=message):
        call(verts, faces, labels)


def test_backends() -> None:
    assert set(RASTERIZERS) == {"torch", "pytorch3d"}
    assert type(make_soft_rasterizer(height=4, width=4)) is SoftRasterizer
    if not pytorch3d_available():
        with pytest.raises(ImportError, match="'torch' backend"):
            make_soft_rasterizer("pytorch3d", height=4, width=4)
    ndc = pixels_to_ndc(torch.tensor([[[0.0, 0.0, 2.0], [63.0, 31.0, 2.0]]]), height=32, width=64)
    torch.testing.assert_close(ndc, torch.tensor([[[63 / 32, 31 / 32, 2.0], [-63 / 32, -31 / 32, 2.0]]]))


@pytest.mark.skipif(not pytorch3d_available(), reason="pytorch3d not installed")
def test_pytorch3d_backend_agrees(body) -> None:
    kwargs = dict(height=SIZE, width=SIZE, near=1.0, far=5.0)
    ours = make_soft_rasterizer("torch", **kwargs)(body["verts_px"], body["faces"]).silhouette
    theirs = make_soft_rasterizer("pytorch3d", **kwargs)(body["verts_px"], body["faces"]).silhouette
    assert iou(ours > 0.5, theirs > 0.5) > 0.97


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(body) -> None:
    rasterizer = SoftRasterizer(height=SIZE, width=SIZE, near=1.0, far=5.0)
    args = (body["verts_px"], body["faces"], body["labels"])
    cpu = rasterizer(*args, num_parts=55)
    gpu = rasterizer(*(a.cuda() for a in args), num_parts=55)
    torch.testing.assert_close(gpu.silhouette.cpu(), cpu.silhouette, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(gpu.part_probs.cpu(), cpu.part_probs, atol=1e-3, rtol=1e-3)
