"""One subnetwork design for body, hand and face, parameterised by a ``PartSpec`` (paper sec. 4).

``PartSubnetwork``: crop ``(B, 3, S, S)`` -> backbone F ``(B, C, S/8, S/8)`` -> Localization
Module (LF, joints K, part maps S) -> regressor on ``concat(F, LF)``.

Optional 2D keypoint stage (``keypoint_joints=N > 0``, not in the paper; ``nets.keypoints``):
heatmaps at 1/4 of the crop for the spec's first N joints, decoded to 2D keypoints that the
regressor reads beside the pooled features and K. The regressor reads them detached: the stage
learns from its own heatmap loss (``training.objective``), trained first (``training.loop``).

Optional facing branch (``facing_head=True``, needs ``keypoint_joints >= 25``; ``nets.facing``):
a small CNN on a head patch placed by the keypoint stage's head keypoints says whether the body
faces the camera (one logit, output ``facing``). The left/right keypoint pairs are then decoded
in image order and named by that facing (``nets.sides``); those keypoints are ``keypoints2d``
and the regressor reads them and the facing probability, detached.

Optional keypoint lifter (``lifter=True``, needs the facing branch; ``nets.lifter``): an MLP
on those keypoints (and the facing probability) whose output is added to the regressor's last
layer, so the regressor starts from the lifted pose (trained on many cheap examples by
``training.loop``).

Regressor (one-shot, not HMR's iterative error feedback, so the exported graph is a plain
feed-forward pass): 1 x 1 conv ``C + J D -> hidden`` + BN + ReLU, 3 x 3 conv stride 2 + BN +
ReLU, global average pool, ``Linear(hidden, mlp) + ReLU``, then one linear layer whose output is
split into the spec's groups: R 6D rotations, betas, expression, camera ``(s, tx, ty)`` and, for
``part_only=True``, the part-only global orientation (one 6D), betas and camera. That last layer
starts with zero weights and the mean as bias, so an untrained network predicts the mean:
identity rotations (the body's global orientation: ``UPRIGHT_ROTMAT``, a person upright and
facing the camera), zero betas/expression and camera ``(s0, 0, 0)`` (``MEAN_CAMERA_SCALE``).

``use_localization=False`` builds the ablation baseline of table 11: no Localization Module,
the regressor reads F alone, and ``joints`` / ``segm_logits`` are None.

Outputs are in the crop: joints are normalised crop coordinates (``localization``), the camera
is the weak-perspective crop camera of ``geometry.camera``; 6D rotations use the two-column
layout of ``geometry.rotations``. ``forward`` checks its input and returns ``SubnetOutput``;
``forward_flat`` is the unchecked export path returning tensors in ``output_names`` order.

Glossary: B batch, S crop side, C feature channels, J joints, D volume depth, P parts,
R rotations, NB betas, NE expression coefficients.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import torch
from torch import nn

from robosmplx_core.checks import check_shape
from robosmplx_core.nets._ops import identity_rot6d, rot6d_to_rotmat_export
from robosmplx_core.nets.backbones import FEATURE_STRIDE, build_backbone
from robosmplx_core.nets.backbones._common import conv_bn_relu
from robosmplx_core.nets.config import SubnetConfig
from robosmplx_core.nets.facing import MIN_KEYPOINTS, FacingHead
from robosmplx_core.nets.images import check_network_images, normalize_images
from robosmplx_core.nets.keypoints import KeypointHead, decode_heatmaps
from robosmplx_core.nets.lifter import KeypointLifter
from robosmplx_core.nets.localization import LocalizationModule
from robosmplx_core.nets.sides import assign_sides, decode_pairs_by_x, side_pairs
from robosmplx_core.nets.specs import PartSpec

__all__ = ["MEAN_CAMERA_SCALE", "PartSubnetwork", "SubnetOutput", "normalize_images"]

UPRIGHT_ROTMAT = ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0))
"""Initial body global orientation: pi about x. The SMPL-X rest pose has y up and faces +z;
in the camera frame (y down, z forward) this stands the body upright, facing the camera."""

MEAN_CAMERA_SCALE: dict[str, float] = {"body": 0.9, "hand": 7.0, "face": 7.0}
"""Initial weak-perspective scale s per part: a ~1.8 m body or ~0.25 m hand/face filling its
(enlarged) crop, i.e. s ~ 2 / (extent in metres x crop enlargement)."""


@dataclass(frozen=True)
class SubnetOutput:
    """One subnetwork's predictions for B crops (all in the crop's frame).

    Fields:
        rot6d: (B, R, 6) 6D rotations (two columns), spec order (body: global + 21 body joints;
            hand: 15 fingers; face: jaw).
        rotmats: (B, R, 3, 3) the same as rotation matrices.
        joints: (B, J, 3) soft-argmax joints K, normalised crop coordinates in [-1, 1]; None
            without the Localization Module.
        segm_logits: (B, P + 1, S/4, S/4) part segmentation logits, channel 0 = background;
            None without the Localization Module.
        heatmaps: (B, N, S/4, S/4) 2D keypoint heatmaps of the spec's first N joints; None
            without the keypoint stage.
        keypoints2d: (B, N, 2) their decoded keypoints, normalised crop coordinates (with the
            facing branch: the left/right pairs decoded in image order and named by it); None
            without the keypoint stage.
        facing: (B,) logits of the facing branch (> 0: the body faces the camera); None
            without it.
        features: (B, C) global average of the backbone feature map F (for analysis/embeddings).
        betas: (B, NB) shape (body: always; hand/face: the part-only branch), else None.
        expression: (B, NE) expression coefficients (face), else None.
        camera: (B, 3) weak-perspective crop camera (s, tx, ty) (body: always; hand/face: the
            part-only branch), else None.
        global_orient: (B, 3, 3) part-only global orientation (hand/face with part_only=True),
            else None; the body's global orientation is ``rotmats[:, 0]``.
    """

    rot6d: torch.Tensor
    rotmats: torch.Tensor
    joints: Optional[torch.Tensor]
    segm_logits: Optional[torch.Tensor]
    features: torch.Tensor
    betas: Optional[torch.Tensor] = None
    expression: Optional[torch.Tensor] = None
    camera: Optional[torch.Tensor] = None
    global_orient: Optional[torch.Tensor] = None
    heatmaps: Optional[torch.Tensor] = None
    keypoints2d: Optional[torch.Tensor] = None
    facing: Optional[torch.Tensor] = None

    @property
    def batch_size(self) -> int:
        """B."""
        return int(self.rot6d.shape[0])

    def select(self, index: slice | torch.Tensor) -> "SubnetOutput":
        """Rows ``index`` of every field (batch dimension kept)."""
        return SubnetOutput(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[index]
                               for f in dataclasses.fields(self)})  # fmt: skip


def _head_layout(spec: PartSpec, part_only: bool) -> list[tuple[str, int]]:
    """(name, flat size) of each group of the regressor's last layer, in order."""
    layout = [("rot6d", spec.num_rotations * 6)]
    if spec.num_betas:
        layout.append(("betas", spec.num_betas))
    if spec.num_expression:
        layout.append(("expression", spec.num_expression))
    if spec.has_camera:
        layout.append(("camera", 3))
    if part_only:
        layout += [("global_orient", 6), ("betas", spec.part_num_betas), ("camera", 3)]
    return layout


def _head_mean(layout: Sequence[tuple[str, int]], spec: PartSpec) -> torch.Tensor:
    parts = []
    for name, size in layout:
        if name == "rot6d" and spec.name == "body":  # global orientation upright, then the body joints
            upright = torch.tensor(UPRIGHT_ROTMAT)[:, :2].T.reshape(6)
            parts += [upright, identity_rot6d(size // 6 - 1)]
        elif name in ("rot6d", "global_orient"):
            parts.append(identity_rot6d(size // 6))
        elif name == "camera":
            parts.append(torch.tensor([MEAN_CAMERA_SCALE[spec.name], 0.0, 0.0]))
        else:
            parts.append(torch.zeros(size))
    return torch.cat(parts)


class PartSubnetwork(nn.Module):
    """Body, Hand or Face subnetwork, depending only on ``spec`` (module docstring).

    Args:
        spec: the part spec (``nets.specs.BODY_SPEC`` / ``HAND_SPEC`` / ``FACE_SPEC``).
        backbone: key of ``nets.backbones.BACKBONES``.
        feature_channels: C of F (512 in the paper).
        heatmap_depth: D of the joint volumes (32 in the paper).
        hidden_channels, segm_channels, mlp_channels: widths of the regressor / segmentation
            branch / regressor MLP.
        input_size: crop side S; ``None`` keeps ``spec.input_size``. A multiple of 32.
        part_only: add the part-only branches (global orientation, betas, camera) for
            part-specific training; only for specs with ``part_only_branches``.
        use_localization: False drops the Localization Module (ablation baseline; the
            whole-body assembly needs it for the body).
        keypoint_joints: N > 0 adds the 2D keypoint stage for the spec's first N joints (module
            docstring); 0 = none (the paper's network).
        facing_head: add the facing branch (module docstring); needs ``keypoint_joints >= 25``.
        lifter: add the keypoint lifter (module docstring); needs ``facing_head``.
    """

    def __init__(
        self, spec: PartSpec, *, backbone: str = "resnet50", feature_channels: int = 512,
        heatmap_depth: int = 32, hidden_channels: int = 256, segm_channels: int = 128,
        mlp_channels: int = 1024, input_size: int | None = None, part_only: bool = False,
        use_localization: bool = True, keypoint_joints: int = 0, facing_head: bool = False,
        lifter: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        if part_only and not spec.part_only_branches:
            raise ValueError(f"PartSubnetwork: the {spec.name!r} spec has no part-only branches; "
                             "build it with part_only=False")  # fmt: skip
        size = spec.input_size if input_size is None else input_size
        if size < 32 or size % 32:
            raise ValueError(f"PartSubnetwork: input_size must be a positive multiple of 32, got {size}")
        if not 0 <= keypoint_joints <= spec.num_joints:
            raise ValueError(f"PartSubnetwork: keypoint_joints must be in [0, {spec.num_joints}] (the "
                             f"{spec.name} spec's joints), got {keypoint_joints}")
        if facing_head and keypoint_joints < MIN_KEYPOINTS:
            raise ValueError(f"PartSubnetwork: facing_head places its patch on the head keypoints, so it needs "
                             f"keypoint_joints >= {MIN_KEYPOINTS}, got {keypoint_joints}")
        if lifter and not facing_head:
            raise ValueError("PartSubnetwork: the lifter reads the keypoints named by the facing branch; build the "
                             "network with facing_head=True (and keypoint_joints >= 25)")
        self.spec = dataclasses.replace(spec, input_size=size)
        self.part_only = part_only
        self.backbone = build_backbone(backbone, out_channels=feature_channels)
        self.use_localization = use_localization
        self.localization: Optional[LocalizationModule] = None
        lf_channels = 0
        if use_localization:
            self.localization = LocalizationModule(in_channels=feature_channels, num_joints=spec.num_joints,
                                                   num_parts=spec.num_parts, depth=heatmap_depth,
                                                   segm_channels=segm_channels)  # fmt: skip
            lf_channels = self.localization.lf_channels
        self.regressor_conv = nn.Sequential(
            conv_bn_relu(feature_channels + lf_channels, hidden_channels, kernel=1),
            conv_bn_relu(hidden_channels, hidden_channels, kernel=3, stride=2),
        )
        # the soft-argmax joints K (J x 3) join the pooled features: pooling alone is
        # translation-invariant and cannot read where the joint volumes put the joints
        joint_inputs = 3 * spec.num_joints if use_localization else 0
        self.keypoint_head: Optional[KeypointHead] = None
        if keypoint_joints:
            self.keypoint_head = KeypointHead(in_channels=feature_channels, num_keypoints=keypoint_joints)
            joint_inputs += 2 * keypoint_joints
        self.facing_head: Optional[FacingHead] = FacingHead() if facing_head else None
        self._pairs = side_pairs(spec.joint_names[:keypoint_joints])
        joint_inputs += 1 if facing_head else 0
        self.regressor_mlp = nn.Sequential(nn.Linear(hidden_channels + joint_inputs, mlp_channels), nn.ReLU(inplace=True))
        self._layout = _head_layout(spec, part_only)
        self.regressor_out = nn.Linear(mlp_channels, sum(n for _, n in self._layout))
        nn.init.zeros_(self.regressor_out.weight)
        self.lifter: Optional[KeypointLifter] = None
        if lifter:
            self.lifter = KeypointLifter(num_keypoints=keypoint_joints, out_features=self.regressor_out.out_features,
                                         with_facing=True)  # fmt: skip
        with torch.no_grad():
            self.regressor_out.bias.copy_(_head_mean(self._layout, spec))
        order = ("rot6d", "rotmats", "joints", "segm_logits", "features", "betas", "expression", "camera",
                 "global_orient", "heatmaps", "keypoints2d", "facing")  # fmt: skip
        present = {"rot6d", "rotmats", "features"} | {n for n, _ in self._layout}
        if use_localization:
            present |= {"joints", "segm_logits"}
        if keypoint_joints:
            present |= {"heatmaps", "keypoints2d"}
        if facing_head:
            present.add("facing")
        self.output_names: tuple[str, ...] = tuple(n for n in order if n in present)

    @classmethod
    def from_config(cls, spec: PartSpec, config: SubnetConfig, *, part_only: bool = False) -> "PartSubnetwork":
        """Build from a :class:`~robosmplx_core.nets.config.SubnetConfig`."""
        return cls(spec, backbone=config.backbone, feature_channels=config.feature_channels,
                   heatmap_depth=config.heatmap_depth, hidden_channels=config.hidden_channels,
                   segm_channels=config.segm_channels, mlp_channels=config.mlp_channels,
                   input_size=config.input_size, part_only=part_only,
                   use_localization=config.use_localization,
                   keypoint_joints=config.keypoint_joints, facing_head=config.facing_head,
                   lifter=config.lifter)  # fmt: skip

    @torch.no_grad()
    def set_mean(self, *, rotmats: torch.Tensor, betas: torch.Tensor | None = None) -> None:
        """Start the regressor at a given mean (HMR's mean-parameter initialisation): the bias
        of the last layer becomes ``rotmats`` (R, 3, 3) as 6D and ``betas`` (NB,); call before
        training, e.g. with the training set's mean pose. Other groups keep their values."""
        check_shape(rotmats, f"{self.spec.num_rotations} 3 3", name="rotmats")
        offset = 0
        for name, size in self._layout:
            if name == "rot6d":
                value = rotmats[..., :2].transpose(-1, -2).reshape(size)  # two columns
                self.regressor_out.bias[offset:offset + size] = value.to(self.regressor_out.bias)
            elif name == "betas" and betas is not None and offset < self._part_only_start():
                check_shape(betas, f"{size}", name="betas")
                self.regressor_out.bias[offset:offset + size] = betas.to(self.regressor_out.bias)
            offset += size

    @torch.no_grad()
    def load_shared_weights(self, state: Mapping[str, torch.Tensor], *, source: str = "state") -> None:
        """Load the weights of this subnetwork trained with or without the part-only branches:
        the part-only rows of the last layer (orientation, betas, camera of part training) are
        dropped when this network has none (whole-body use, paper sec. 4.1).

        Raises:
            ValueError: other tensor names or shapes (a different architecture), listed.
        """
        state = dict(state)
        rows = self._part_only_start() if not self.part_only else None
        for key in ("regressor_out.weight", "regressor_out.bias"):
            if rows is not None and key in state and state[key].shape[0] > rows:
                state[key] = state[key][:rows]
        mine = {k: tuple(v.shape) for k, v in self.state_dict().items()}
        theirs = {k: tuple(v.shape) for k, v in state.items()}
        if mine != theirs:
            diff = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
            shown = ", ".join(f"{k}: {theirs.get(k)} vs {mine.get(k)}" for k in diff[:4])
            raise ValueError(f"{source}: weights of a different {self.spec.name} subnetwork architecture "
                             f"({len(diff)} tensors differ, e.g. {shown} (checkpoint vs network)); build the "
                             "network with the settings in the checkpoint's network.yaml")
        self.load_state_dict(state)

    @property
    def side_pairs(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(left, right) indices of the left/right pairs among the keypoint stage's joints."""
        return self._pairs

    def flat_groups(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """The regressor's flat output ``(B, F)`` -> its groups by name (``rot6d`` (B, R * 6),
        ``betas``, ``camera``, ...; the part-only groups overwrite the shared names last)."""
        return dict(zip([n for n, _ in self._layout], flat.split([s for _, s in self._layout], dim=1)))

    def _part_only_start(self) -> int:
        """Offset of the part-only groups in the last layer (its size when there are none)."""
        total = sum(n for _, n in self._layout)
        return total - (6 + self.spec.part_num_betas + 3) if self.part_only else total

    @property
    def input_size(self) -> int:
        """S, the crop side in pixels."""
        return self.spec.input_size

    @property
    def feature_size(self) -> int:
        """Side of F (S / 8)."""
        return self.spec.input_size // FEATURE_STRIDE

    def forward(self, images: torch.Tensor) -> SubnetOutput:
        """Normalised float RGB crops ``(B, 3, S, S)`` (``nets.images.normalize_images``) -> outputs.

        Raises:
            ValueError: wrong rank, channel count/order, dtype or crop size (the message says how
                to fix it).
        """
        check_network_images(images, size=self.input_size)
        return self.unflatten(self.forward_flat(images))

    def forward_flat(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Export path: ``(B, 3, S, S)`` -> tensors in ``self.output_names`` order (no checks)."""
        features = self.backbone(images)
        loc = self.localization(features) if self.localization is not None else None
        inputs = torch.cat([features, loc.lf], dim=1) if loc is not None else features
        hidden = self.regressor_conv(inputs).mean(dim=(2, 3))
        if loc is not None:
            hidden = torch.cat([hidden, loc.joints.flatten(1)], dim=1)
        heatmaps = keypoints = facing = prob = None
        if self.keypoint_head is not None:
            heatmaps = self.keypoint_head(features)
            keypoints = decode_heatmaps(heatmaps)
        if self.facing_head is not None:  # pairs in image order, named by the facing (nets.sides)
            pairs_xy = decode_pairs_by_x(heatmaps.detach(), *self._pairs)
            ordered = assign_sides(keypoints.detach(), pairs_xy, torch.zeros_like(keypoints[:, 0, 0]), *self._pairs)
            facing = self.facing_head(images, ordered)
            prob = torch.sigmoid(facing.detach())
            keypoints = assign_sides(keypoints.detach(), pairs_xy, prob, *self._pairs)
            hidden = torch.cat([hidden, keypoints.flatten(1), prob[:, None]], dim=1)
        elif keypoints is not None:
            hidden = torch.cat([hidden, keypoints.detach().flatten(1)], dim=1)
        flat = self.regressor_out(self.regressor_mlp(hidden))
        if self.lifter is not None:
            flat = flat + self.lifter(keypoints.detach(), prob)
        groups = self.flat_groups(flat)
        rot6d = groups["rot6d"].unflatten(1, (self.spec.num_rotations, 6))
        values = dict(groups, rot6d=rot6d, rotmats=rot6d_to_rotmat_export(rot6d), features=features.mean(dim=(2, 3)))
        if loc is not None:
            values.update(joints=loc.joints, segm_logits=loc.segm_logits)
        if heatmaps is not None:
            values.update(heatmaps=heatmaps, keypoints2d=keypoints)
        if facing is not None:
            values["facing"] = facing
        if "global_orient" in values:
            values["global_orient"] = rot6d_to_rotmat_export(values["global_orient"])
        return tuple(values[name] for name in self.output_names)

    def unflatten(self, flat: Sequence[torch.Tensor]) -> SubnetOutput:
        """Tensors in ``output_names`` order (``forward_flat`` or an ONNX runner) -> ``SubnetOutput``."""
        if len(flat) != len(self.output_names):
            raise ValueError(f"unflatten: expected {len(self.output_names)} tensors {self.output_names}, "
                             f"got {len(flat)}")  # fmt: skip
        out = SubnetOutput(**dict({"joints": None, "segm_logits": None}, **dict(zip(self.output_names, flat))))
        dims = check_shape(out.rotmats, f"B {self.spec.num_rotations} 3 3", name="rotmats")
        if out.joints is not None:
            check_shape(out.joints, f"B {self.spec.num_joints} 3", name="joints", dims=dims)
        return out
