"""Typed, frozen network configuration (the lead wires ``NetworkConfig`` into the main config).

``SubnetConfig`` sizes one subnetwork (the same design for body, hand and face; what differs is
the :class:`~robosmplx_core.nets.specs.PartSpec`); ``NetworkConfig`` holds the three plus the
whole-body cropping settings. Defaults follow the paper (ResNet-50 features F of 512 x 32 x 32,
joint volumes of depth 32, 256 px crops).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from robosmplx_core.nets.backbones import BACKBONES


@dataclass(frozen=True)
class SubnetConfig:
    """Sizes of one :class:`~robosmplx_core.nets.subnet.PartSubnetwork`.

    backbone: key of ``nets.backbones.BACKBONES`` ("resnet50" | "drn_d_54" | "light" | "small").
    feature_channels: C of the backbone feature map F (512 in the paper).
    heatmap_depth: D, depth bins of each joint volume in LF (32 in the paper).
    hidden_channels: width of the regressor's conv layers on concat(F, LF).
    segm_channels: width of the part-segmentation branch.
    mlp_channels: width of the regressor's hidden fully connected layer.
    input_size: crop side in pixels; ``None`` keeps the spec's ``input_size`` (256). Must be a
        multiple of 32 (F is at 1/8, the regressor halves it once more).
    use_localization: False drops the Localization Module (the ablation baseline of table 11).
    keypoint_joints: N > 0 adds the 2D keypoint stage (heatmaps at 1/4 for the spec's first N
        joints, read by the regressor; not in the paper, see ``nets.keypoints``); 0 = none.
    facing_head: add the facing branch (a head-patch CNN saying whether the body faces the
        camera, read by the regressor; not in the paper, see ``nets.facing``). Needs
        ``keypoint_joints >= 25``.
    lifter: add the keypoint lifter (an MLP from the keypoints to the body's parameters, added
        to the regressor's output; not in the paper, see ``nets.lifter``). Needs
        ``facing_head``.
    """

    backbone: str = "resnet50"
    feature_channels: int = 512
    heatmap_depth: int = 32
    hidden_channels: int = 256
    segm_channels: int = 128
    mlp_channels: int = 1024
    input_size: int | None = None
    use_localization: bool = True
    keypoint_joints: int = 0
    facing_head: bool = False
    lifter: bool = False

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"SubnetConfig.backbone: expected one of {sorted(BACKBONES)}, got {self.backbone!r}")
        sizes = {k: getattr(self, k) for k in ("feature_channels", "heatmap_depth", "hidden_channels",
                                                "segm_channels", "mlp_channels")}  # fmt: skip
        bad = {k: v for k, v in sizes.items() if v < 1}
        if bad:
            raise ValueError(f"SubnetConfig: sizes must be >= 1, got {bad}")
        if self.keypoint_joints < 0:
            raise ValueError(f"SubnetConfig.keypoint_joints: expected >= 0 (0 = no keypoint stage), got {self.keypoint_joints}")
        if self.facing_head and self.keypoint_joints < 25:
            raise ValueError("SubnetConfig.facing_head: the facing branch reads a head patch placed by the 2D "
                             f"keypoint stage; set keypoint_joints >= 25, got {self.keypoint_joints}")
        if self.lifter and not self.facing_head:
            raise ValueError("SubnetConfig.lifter: the lifter reads the keypoints named by the facing branch; set "
                             "facing_head=true (and keypoint_joints >= 25)")
        if self.input_size is not None and (self.input_size < 32 or self.input_size % 32):
            raise ValueError(f"SubnetConfig.input_size: expected a positive multiple of 32, got {self.input_size}")


@dataclass(frozen=True)
class NetworkConfig:
    """The whole-body network: three subnetworks + how part crops are derived.

    body_box_scale: the person box is made square (side = max(w, h)) and enlarged by this
        factor before the body crop.
    hand_box_scale, face_box_scale: enlargement of the square joint-extent boxes of the hands
        (wrist + 20 hand keypoints) and face (the 72 face keypoints) before the box head's
        correction.
    min_part_box_px: smallest side of a part box in full-image pixels (degenerate joints).
    box_head_channels: width of the box head's hidden layer.
    """

    body: SubnetConfig = field(default_factory=SubnetConfig)
    hand: SubnetConfig = field(default_factory=SubnetConfig)
    face: SubnetConfig = field(default_factory=SubnetConfig)
    body_box_scale: float = 1.2
    hand_box_scale: float = 1.6
    face_box_scale: float = 1.4
    min_part_box_px: float = 8.0
    box_head_channels: int = 256

    def __post_init__(self) -> None:
        for name in ("body_box_scale", "hand_box_scale", "face_box_scale", "min_part_box_px"):
            if not getattr(self, name) > 0:
                raise ValueError(f"NetworkConfig.{name}: expected a positive number, got {getattr(self, name)}")
        if self.box_head_channels < 1:
            raise ValueError(f"NetworkConfig.box_head_channels: expected >= 1, got {self.box_head_channels}")
