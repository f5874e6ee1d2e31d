"""SMPL-X body model: a thin holder around ``smplx.SMPLXLayer`` (rotation matrices in).

    model = BodyModel.load()                       # argument, $ROBOSMPLX_MODEL_DIR, or stand-in
    out = model(SMPLXParams.zeros(2))              # out.vertices (2, 10475, 3), out.joints (2, 127, 3)

Coordinates are the model's own (SMPL-X: y up, the body faces +z, metres); ``transl`` is added
to everything. With ``use_face_contour`` the joints are the 144 set (127 + 17 contour points).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import smplx
import torch
from torch import nn

from robosmplx_core.body_model.fast_joints import FastJoints
from robosmplx_core.body_model.files import (
    find_model_file, sanitized_copy, standin_model_file, validate_model_file,
)
from robosmplx_core.checks import check_shape
from robosmplx_core.config import GENDERS, BodyModelConfig
from robosmplx_core.types import SMPLXParams


@dataclass(frozen=True)
class BodyModelOutput:
    """Posed body model.

    Fields:
        vertices: (B, V, 3) metres (V = 10475 for SMPL-X).
        joints: (B, J, 3) metres; J = 127 (55 skeleton + 21 vertex joints + 51 face
            landmarks) or 144 with the face contour.
    """

    vertices: torch.Tensor
    joints: torch.Tensor


class BodyModel(nn.Module):
    """SMPL-X through ``smplx.SMPLXLayer``; call it with :class:`SMPLXParams`."""

    def __init__(self, *, layer: smplx.SMPLXLayer, model_file: Path, is_standin: bool) -> None:
        super().__init__()
        self.layer = layer
        self.model_file = model_file
        self.is_standin = is_standin
        self._fast_joints: FastJoints | None = None  # built on first use of joints()

    @classmethod
    def load(
        cls,
        model_dir: str | Path | None = None,
        *,
        gender: str = "neutral",
        num_betas: int = 10,
        num_expression: int = 10,
        use_face_contour: bool = False,
        device: str | torch.device = "cpu",
    ) -> "BodyModel":
        """Load SMPL-X from ``model_dir``, else ``$ROBOSMPLX_MODEL_DIR``, else the stand-in.

        Raises:
            FileNotFoundError: no model file where one was asked for (says where files come from).
            ValueError: the file is corrupt or not SMPL-X (names the file and key), or an
                unsupported option (gender other than neutral with the stand-in).
        """
        if gender not in GENDERS:
            raise ValueError(f"gender: expected one of {GENDERS}, got {gender!r}")
        path = find_model_file(model_dir, gender)
        is_standin = path is None
        if is_standin:
            if gender != "neutral":
                raise ValueError(f"the procedural stand-in model is gender-neutral only; got gender={gender!r}. "
                                 "Use gender=neutral or point model_dir at real SMPL-X files")
            path = standin_model_file()
        pickled = validate_model_file(path, use_face_contour=use_face_contour)
        load_path = sanitized_copy(path, pickled) if pickled else path
        layer = smplx.SMPLXLayer(
            model_path=str(load_path), gender=gender, num_betas=num_betas,
            num_expression_coeffs=num_expression, use_face_contour=use_face_contour, use_pca=False,
        )
        # smplx stores posedirs as a transposed view (stride (1, 486)); the pose-corrective
        # product reads all 61 MB of it per call and runs ~2x faster on contiguous memory.
        layer.posedirs = layer.posedirs.contiguous()
        return cls(layer=layer, model_file=path, is_standin=is_standin).to(device)

    @classmethod
    def from_config(cls, cfg: BodyModelConfig) -> "BodyModel":
        """Build from the ``body_model`` config section."""
        return cls.load(cfg.model_dir, gender=cfg.gender, num_betas=cfg.num_betas,
                        num_expression=cfg.num_expression, use_face_contour=cfg.use_face_contour,
                        device=cfg.device)

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int64 triangle vertex indices."""
        return np.asarray(self.layer.faces, dtype=np.int64)

    @property
    def parents(self) -> np.ndarray:
        """(55,) int64 parent of each skeleton joint (-1 for the pelvis)."""
        return self.layer.parents.detach().cpu().numpy().astype(np.int64)

    @property
    def num_betas(self) -> int:
        """Number of shape coefficients the model takes."""
        return int(self.layer.num_betas)

    @property
    def num_expression(self) -> int:
        """Number of expression coefficients the model takes."""
        return int(self.layer.num_expression_coeffs)

    @property
    def num_joints(self) -> int:
        """J of the output: 127, or 144 with the face contour."""
        return 144 if self.layer.use_face_contour else 127

    def forward(self, params: SMPLXParams) -> BodyModelOutput:
        """Pose and shape the model.

        Args:
            params: batch of B; betas (B, num_betas) and expression (B, num_expression) must
                match the model's sizes.

        Returns:
            vertices (B, V, 3) and joints (B, J, 3) in the model frame plus ``transl``.
        """
        if not isinstance(params, SMPLXParams):
            raise ValueError(f"BodyModel expects SMPLXParams, got {type(params).__name__}")
        check_shape(params.betas, f"B {self.num_betas}", name="SMPLXParams.betas")
        check_shape(params.expression, f"B {self.num_expression}", name="SMPLXParams.expression")
        ref = self.layer.v_template
        p = params.to(device=ref.device, dtype=ref.dtype)
        out = self.layer(
            betas=p.betas, global_orient=p.global_orient, body_pose=p.body_pose,
            left_hand_pose=p.left_hand_pose, right_hand_pose=p.right_hand_pose, transl=p.transl,
            expression=p.expression, jaw_pose=p.jaw_pose, leye_pose=p.leye_pose, reye_pose=p.reye_pose,
        )
        return BodyModelOutput(vertices=out.vertices, joints=out.joints)

    def joints(self, params: SMPLXParams) -> torch.Tensor:
        """(B, J, 3) output joints only, exactly as ``forward(params).joints``, much faster
        (skins only the vertices the joints need; see ``fast_joints.py``)."""
        if not isinstance(params, SMPLXParams):
            raise ValueError(f"BodyModel expects SMPLXParams, got {type(params).__name__}")
        check_shape(params.betas, f"B {self.num_betas}", name="SMPLXParams.betas")
        check_shape(params.expression, f"B {self.num_expression}", name="SMPLXParams.expression")
        if self._fast_joints is None:
            self._fast_joints = FastJoints(self.layer)
        ref = self.layer.v_template
        p = params.to(device=ref.device, dtype=ref.dtype)
        full_pose = torch.cat([p.global_orient[:, None], p.body_pose, p.jaw_pose[:, None], p.leye_pose[:, None],
                               p.reye_pose[:, None], p.left_hand_pose, p.right_hand_pose], dim=1)
        return self._fast_joints(full_pose, p.betas, p.expression, p.transl)

    def rest_joints(self, betas: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 55, 3) skeleton joints in the rest pose for ``betas`` (B, num_betas); B=1 if None."""
        params = SMPLXParams.zeros(1 if betas is None else int(betas.shape[0]),
                                   num_betas=self.num_betas, num_expression=self.num_expression)
        if betas is not None:
            params = dataclasses.replace(params, betas=betas.to(params.betas))
        return self.forward(params).joints[:, :55]
