"""Whole-body network (paper Fig. 4): body crop -> Body subnetwork -> hand/face boxes -> Hand and
Face subnetworks on high-resolution crops -> one set of SMPL-X parameters in the camera frame.

Steps for B people (row b of every input belongs to person b):

1. The person box is squared and enlarged (``body_box_scale``) and cropped from the full image.
2. The Body subnetwork predicts 22 rotations, betas, the crop camera and the 137 joints K
   (normalised body-crop coordinates).
3. Left hand (left wrist + 20 left-hand keypoints), right hand and face (72 face keypoints)
   boxes come from the extent of their joints, squared and enlarged (``hand_box_scale``,
   ``face_box_scale``); all box maths is in body-crop normalised coordinates (``[-1, 1]`` over
   the body crop). A box head (MLP on the pooled body features + those boxes) predicts, per
   part, ``(dcx, dcy, dlog_side)``: ``c' = c + d_c * side``, ``side' = side * exp(dlog_side)``.
   Its last layer starts at zero (boxes = joint extents). ``part_box_center_scale`` (the
   corrected ``(cx, cy, side)``) is what L_box compares with the ground-truth boxes.
4. The boxes go to full-image pixels (side at least ``min_part_box_px``) and are cropped from
   the FULL-RESOLUTION image; the left hand is mirrored into a right hand. One Hand subnetwork
   runs on ``[right hands; left hands]`` (2B crops), the Face subnetwork on the face crops.
5. Merge: global orientation and body pose from the body, right-hand pose as predicted,
   left-hand pose mirrored back (``M R M``, ``M = diag(-1, 1, 1)``), jaw and expression from the
   face, eyes at identity, betas from the body, translation from the body's crop camera with
   ``geometry.camera.crop_cam_to_full_transl`` (focal ``K[0, 0]``, principal point ``K[:2, 2]``;
   square pixels assumed).

Part order everywhere: ``PART_BOX_NAMES = ("left_hand", "right_hand", "face")``.
Glossary: B batch, H x W full image, C feature channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from robosmplx_core.body_model.keypoint_sets import (WHOLEBODY137_FACE, WHOLEBODY137_LEFT_HAND,
                                                     WHOLEBODY137_NAMES, WHOLEBODY137_RIGHT_HAND)  # fmt: skip
from robosmplx_core.checks import check_shape
from robosmplx_core.geometry.camera import crop_cam_to_full_transl
from robosmplx_core.nets._ops import mirror_rotmat
from robosmplx_core.nets.config import NetworkConfig
from robosmplx_core.nets.crop import (box_center_size, center_size_to_boxes, crop_boxes, crop_to_image,
                                      joint_extent_boxes, square_boxes)  # fmt: skip
from robosmplx_core.nets.images import check_network_images
from robosmplx_core.nets.specs import BODY_SPEC, FACE_SPEC, HAND_SPEC, PartSpec
from robosmplx_core.nets.subnet import PartSubnetwork, SubnetOutput
from robosmplx_core.types import SMPLXParams

PART_BOX_NAMES = ("left_hand", "right_hand", "face")
_Named = dict[str, torch.Tensor]  # flat subnetwork outputs by output name, inside forward_flat only
PARAM_NAMES = ("global_orient", "body_pose", "left_hand_pose", "right_hand_pose", "jaw_pose", "betas",
               "expression", "transl")  # fmt: skip
BOX_NAMES = ("body_boxes_xyxy", "part_boxes_xyxy", "joint_part_boxes_xyxy", "box_offsets", "part_box_center_scale")


def _joint_range(part: slice, wrist: str | None) -> list[int]:
    extra = [WHOLEBODY137_NAMES.index(wrist)] if wrist else []
    return extra + list(range(part.start, part.stop))


PART_JOINT_INDICES_137: dict[str, list[int]] = {
    "left_hand": _joint_range(WHOLEBODY137_LEFT_HAND, "left_wrist"),
    "right_hand": _joint_range(WHOLEBODY137_RIGHT_HAND, "right_wrist"),
    "face": _joint_range(WHOLEBODY137_FACE, None),
}
"""Indices into the 137 body-subnetwork joints whose extent defines each part box."""


@dataclass(frozen=True)
class WholeBodyOutput:
    """Everything the whole-body network predicts for B people.

    Fields:
        params: SMPL-X parameters (rotation matrices), translation in the full-image camera frame.
        body, face: (B-batched) subnetwork outputs, in their crops.
        right_hand, left_hand: hand subnetwork outputs (B each); ``left_hand`` is in the MIRRORED
            crop (a right-hand frame): its rotmats are un-mirrored only in ``params``.
        body_boxes_xyxy: (B, 4) square body crop boxes, full-image pixels.
        part_boxes_xyxy: (B, 3, 4) the crops used for left hand, right hand, face (pixels).
        joint_part_boxes_xyxy: (B, 3, 4) the same boxes from the joint extents alone (pixels).
        box_offsets: (B, 3, 3) box head output ``(dcx, dcy, dlog_side)`` per part.
        part_box_center_scale: (B, 3, 3) corrected ``(cx, cy, side)`` per part in body-crop
            normalised coordinates (the quantity L_box supervises).
    """

    params: SMPLXParams
    body: SubnetOutput
    right_hand: SubnetOutput
    left_hand: SubnetOutput
    face: SubnetOutput
    body_boxes_xyxy: torch.Tensor
    part_boxes_xyxy: torch.Tensor
    joint_part_boxes_xyxy: torch.Tensor
    box_offsets: torch.Tensor
    part_box_center_scale: torch.Tensor


class BoxHead(nn.Module):
    """Pooled body features ``(B, C)`` + joint boxes ``(B, 3, 3)`` (cx, cy, side) -> offsets ``(B, 3, 3)``."""

    def __init__(self, *, in_channels: int, hidden_channels: int) -> None:
        super().__init__()
        n = len(PART_BOX_NAMES)
        self.mlp = nn.Sequential(nn.Linear(in_channels + 3 * n, hidden_channels), nn.ReLU(inplace=True),
                                 nn.Linear(hidden_channels, 3 * n))  # fmt: skip
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, features: torch.Tensor, boxes_cs: torch.Tensor) -> torch.Tensor:
        out = self.mlp(torch.cat([features, boxes_cs.flatten(1)], dim=1))
        return out.unflatten(1, (len(PART_BOX_NAMES), 3))


def _expect_spec(net: PartSubnetwork, spec: PartSpec, role: str) -> None:
    if not isinstance(net, PartSubnetwork) or net.spec.name != spec.name:
        got = getattr(getattr(net, "spec", None), "name", type(net).__name__)
        raise ValueError(f"WholeBodyNetwork.{role}: expected a PartSubnetwork built with the {spec.name!r} "
                         f"spec, got {got!r}")  # fmt: skip


class WholeBodyNetwork(nn.Module):
    """Body, Hand and Face subnetworks assembled as in the module docstring.

    Args:
        body, hand, face: subnetworks built with BODY_SPEC / HAND_SPEC / FACE_SPEC (their
            part-only branches, if any, are ignored).
        body_box_scale, hand_box_scale, face_box_scale, min_part_box_px, box_head_channels: see
            :class:`~robosmplx_core.nets.config.NetworkConfig`.
    """

    def __init__(
        self, body: PartSubnetwork, hand: PartSubnetwork, face: PartSubnetwork, *, body_box_scale: float = 1.2,
        hand_box_scale: float = 1.6, face_box_scale: float = 1.4, min_part_box_px: float = 8.0,
        box_head_channels: int = 256,
    ) -> None:  # fmt: skip
        super().__init__()
        for net, spec, role in ((body, BODY_SPEC, "body"), (hand, HAND_SPEC, "hand"), (face, FACE_SPEC, "face")):
            _expect_spec(net, spec, role)
        if not body.use_localization:
            raise ValueError("WholeBodyNetwork: the body subnetwork must have its Localization Module "
                             "(part boxes come from its joints); build it with use_localization=True")
        self.body, self.hand, self.face = body, hand, face
        self.body_box_scale, self.min_part_box_px = float(body_box_scale), float(min_part_box_px)
        self.part_box_scales = (float(hand_box_scale), float(hand_box_scale), float(face_box_scale))
        channels = body.backbone.out_channels
        self.box_head = BoxHead(in_channels=channels, hidden_channels=box_head_channels)
        for name, idx in PART_JOINT_INDICES_137.items():
            self.register_buffer(f"_idx_{name}", torch.tensor(idx, dtype=torch.int64), persistent=False)
        self.output_names: tuple[str, ...] = (
            PARAM_NAMES + BOX_NAMES + tuple(f"body.{n}" for n in body.output_names)
            + tuple(f"hand.{n}" for n in hand.output_names) + tuple(f"face.{n}" for n in face.output_names)
        )  # fmt: skip

    @classmethod
    def from_config(cls, config: NetworkConfig) -> "WholeBodyNetwork":
        """Build the three subnetworks and the assembly from a ``NetworkConfig``."""
        return cls(
            PartSubnetwork.from_config(BODY_SPEC, config.body), PartSubnetwork.from_config(HAND_SPEC, config.hand),
            PartSubnetwork.from_config(FACE_SPEC, config.face), body_box_scale=config.body_box_scale,
            hand_box_scale=config.hand_box_scale, face_box_scale=config.face_box_scale,
            min_part_box_px=config.min_part_box_px, box_head_channels=config.box_head_channels,
        )  # fmt: skip

    def forward(self, images: torch.Tensor, boxes_xyxy: torch.Tensor, K: torch.Tensor) -> WholeBodyOutput:
        """Full-resolution images + person boxes + intrinsics -> :class:`WholeBodyOutput`.

        Args:
            images: (B, 3, H, W) ImageNet-normalised float RGB (``nets.images.normalize_images``).
            boxes_xyxy: (B, 4) person boxes in pixels of ``images``.
            K: (B, 3, 3) pinhole intrinsics of ``images`` in pixels.

        Raises:
            ValueError: wrong shapes/dtypes (with the fix).
        """
        check_network_images(images, name="images")
        dims = check_shape(boxes_xyxy, "B 4", name="boxes_xyxy", dims={"B": int(images.shape[0])})
        check_shape(K, "B 3 3", name="K", dims=dims)
        if not (boxes_xyxy.is_floating_point() and K.is_floating_point()):
            raise ValueError("boxes_xyxy, K: expected floating-point tensors; convert with .float()")
        return self.unflatten(self.forward_flat(images, boxes_xyxy.to(images.dtype), K.to(images.dtype)))

    def forward_flat(
        self, images: torch.Tensor, boxes_xyxy: torch.Tensor, K: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Export path (no checks): tensors in ``self.output_names`` order."""
        body_boxes = square_boxes(boxes_xyxy, scale=self.body_box_scale)
        body_flat = self.body.forward_flat(crop_boxes(images, body_boxes, out_size=self.body.input_size))
        body = dict(zip(self.body.output_names, body_flat))
        boxes = self._part_boxes(body["joints"], body["features"], body_boxes)
        part_boxes = boxes["part_boxes_xyxy"]
        size = self.hand.input_size
        hand_crops = torch.cat([crop_boxes(images, part_boxes[:, 1], out_size=size),
                                crop_boxes(images, part_boxes[:, 0], out_size=size, mirror=True)])  # fmt: skip
        hand_flat = self.hand.forward_flat(hand_crops)
        face_flat = self.face.forward_flat(crop_boxes(images, part_boxes[:, 2], out_size=self.face.input_size))
        params = self._merge(body, dict(zip(self.hand.output_names, hand_flat)),
                             dict(zip(self.face.output_names, face_flat)), body_boxes, images, K)  # fmt: skip
        values = [params[n] for n in PARAM_NAMES] + [boxes[n] for n in BOX_NAMES]
        return tuple(values) + tuple(body_flat) + tuple(hand_flat) + tuple(face_flat)

    def _part_boxes(
        self, joints: torch.Tensor, features: torch.Tensor, body_boxes: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Joint-extent boxes, box head correction, conversion to full-image pixels."""
        xy = joints[..., 0:2]
        extents = [joint_extent_boxes(xy.index_select(1, getattr(self, f"_idx_{name}")), scale=scale)
                   for name, scale in zip(PART_BOX_NAMES, self.part_box_scales)]  # fmt: skip
        joint_boxes = torch.stack(extents, dim=1)  # (B, 3, 4) body-crop normalised
        center, size = box_center_size(joint_boxes)
        side = size[..., 0]
        offsets = self.box_head(features, torch.cat([center, side[..., None]], dim=-1))
        new_center = center + offsets[..., 0:2] * side[..., None]
        new_side = side * torch.exp(offsets[..., 2])
        half_body = box_center_size(body_boxes)[1][:, None, 0] * 0.5  # (B, 1) pixels per normalised unit
        side_px = (new_side * half_body).clamp_min(self.min_part_box_px)
        joint_side_px = (side * half_body).clamp_min(self.min_part_box_px)
        return {
            "body_boxes_xyxy": body_boxes,
            "part_boxes_xyxy": center_size_to_boxes(crop_to_image(new_center, body_boxes), side_px),
            "joint_part_boxes_xyxy": center_size_to_boxes(crop_to_image(center, body_boxes), joint_side_px),
            "box_offsets": offsets,
            "part_box_center_scale": torch.cat([new_center, new_side[..., None]], dim=-1),
        }

    def _merge(self, body: _Named, hand: _Named, face: _Named, body_boxes: torch.Tensor, images: torch.Tensor,
               K: torch.Tensor) -> dict[str, torch.Tensor]:  # fmt: skip
        """Per-part outputs -> SMPL-X parameter tensors (``PARAM_NAMES``)."""
        batch = body_boxes.shape[0]
        hand_rot = hand["rotmats"]
        center, size = box_center_size(body_boxes)
        # only checked for its shape: the principal point comes from K
        image_size_wh = torch.tensor([images.shape[3], images.shape[2]], dtype=K.dtype, device=K.device)
        image_size_wh = image_size_wh.expand(batch, 2)
        transl = crop_cam_to_full_transl(body["camera"], center, size[:, 0], image_size_wh, K[:, 0, 0],
                                         principal_point_xy=K[:, 0:2, 2])  # fmt: skip
        return {
            "global_orient": body["rotmats"][:, 0], "body_pose": body["rotmats"][:, 1:],
            "right_hand_pose": hand_rot[:batch], "left_hand_pose": mirror_rotmat(hand_rot[batch:]),
            "jaw_pose": face["rotmats"][:, 0], "betas": body["betas"], "expression": face["expression"],
            "transl": transl,
        }  # fmt: skip

    def unflatten(self, flat: Sequence[torch.Tensor]) -> WholeBodyOutput:
        """Tensors in ``output_names`` order (``forward_flat`` or an ONNX runner) -> :class:`WholeBodyOutput`."""
        if len(flat) != len(self.output_names):
            raise ValueError(f"unflatten: expected {len(self.output_names)} tensors, got {len(flat)}")
        n_top = len(PARAM_NAMES) + len(BOX_NAMES)
        n_body, n_hand = len(self.body.output_names), len(self.hand.output_names)
        top = dict(zip(PARAM_NAMES + BOX_NAMES, flat[:n_top]))
        body = self.body.unflatten(flat[n_top:n_top + n_body])
        hands = self.hand.unflatten(flat[n_top + n_body:n_top + n_body + n_hand])
        face = self.face.unflatten(flat[n_top + n_body + n_hand:])
        batch = body.batch_size
        eye = torch.eye(3, dtype=top["transl"].dtype, device=top["transl"].device).expand(batch, 3, 3)
        params = SMPLXParams(**{n: top[n] for n in PARAM_NAMES}, leye_pose=eye, reye_pose=eye)
        return WholeBodyOutput(
            params=params, body=body, right_hand=hands.select(slice(0, batch)),
            left_hand=hands.select(slice(batch, 2 * batch)), face=face,
            **{n: top[n] for n in BOX_NAMES},
        )  # fmt: skip
