"""Exact SMPL-X joints without skinning the whole mesh.

The 127 (144) output joints need the 55 skeleton joints plus a few hundred vertices (the 21
vertex joints and the corners of the face-landmark triangles). Skinning only those vertices,
with the joint regressor folded into the shape space, gives the same joints as the full
``smplx`` forward (to float precision) about an order of magnitude faster, because the full
pose-corrective product reads a 61 MB matrix per call. Uses ``smplx.lbs``'s own functions.
"""

from __future__ import annotations

import torch
from smplx.lbs import batch_rigid_transform, find_dynamic_lmk_idx_and_bcoords, vertices2landmarks
from torch import nn


class FastJoints(nn.Module):
    """Joints of an ``smplx.SMPLXLayer`` from rotation matrices; see :meth:`forward`."""

    def __init__(self, layer) -> None:
        super().__init__()
        self.use_face_contour = bool(layer.use_face_contour)
        faces = layer.faces_tensor.long()
        needed = [layer.vertex_joint_selector.extra_joints_idxs.long(), faces[layer.lmk_faces_idx.long()].reshape(-1)]
        if self.use_face_contour:
            needed.append(faces[layer.dynamic_lmk_faces_idx.long()].reshape(-1))
            self.register_buffer("dynamic_lmk_faces_idx", layer.dynamic_lmk_faces_idx.clone())
            self.register_buffer("dynamic_lmk_bary_coords", layer.dynamic_lmk_bary_coords.clone())
            self.neck_kin_chain = layer.neck_kin_chain
        subset = torch.unique(torch.cat(needed))
        remap = torch.full((layer.v_template.shape[0],), 0, dtype=torch.long)
        remap[subset] = torch.arange(subset.numel())
        dirs = torch.cat([layer.shapedirs, layer.expr_dirs], dim=-1)  # (V, 3, NB + NE)
        self.num_betas = int(layer.shapedirs.shape[-1])
        self.register_buffer("j_template", layer.J_regressor @ layer.v_template)                 # (55, 3)
        self.register_buffer("j_dirs", torch.einsum("jv,vck->jck", layer.J_regressor, dirs))      # (55, 3, K)
        self.register_buffer("v_template", layer.v_template[subset].clone())                   # (S, 3)
        self.register_buffer("dirs", dirs[subset].clone())                                      # (S, 3, K)
        posedirs = layer.posedirs.view(layer.posedirs.shape[0], -1, 3)[:, subset]              # (P, S, 3)
        self.register_buffer("posedirs", posedirs.reshape(posedirs.shape[0], -1).clone())      # (P, S*3)
        self.register_buffer("weights", layer.lbs_weights[subset].clone())                      # (S, 55)
        self.register_buffer("parents", layer.parents.clone())
        self.register_buffer("faces", remap[faces])                                             # (F, 3) into subset
        self.register_buffer("extra_idx", remap[layer.vertex_joint_selector.extra_joints_idxs.long()])
        self.register_buffer("lmk_faces_idx", layer.lmk_faces_idx.clone())
        self.register_buffer("lmk_bary_coords", layer.lmk_bary_coords.clone())

    def forward(self, full_pose: torch.Tensor, betas: torch.Tensor, expression: torch.Tensor,
                transl: torch.Tensor) -> torch.Tensor:
        """Joints (B, 127 or 144, 3).

        Args:
            full_pose: (B, 55, 3, 3) rotation matrices in SMPL-X joint order.
            betas: (B, NB); expression: (B, NE); transl: (B, 3).
        """
        b = full_pose.shape[0]
        coeffs = torch.cat([betas, expression], dim=-1)
        joints = self.j_template + torch.einsum("bk,jck->bjc", coeffs, self.j_dirs)
        v_shaped = self.v_template + torch.einsum("bk,sck->bsc", coeffs, self.dirs)
        ident = torch.eye(3, dtype=full_pose.dtype, device=full_pose.device)
        pose_feature = (full_pose[:, 1:] - ident).reshape(b, -1)
        v_posed = v_shaped + (pose_feature @ self.posedirs).view(b, -1, 3)
        j_posed, A = batch_rigid_transform(full_pose, joints, self.parents, dtype=full_pose.dtype)
        T = (self.weights @ A.view(b, A.shape[1], 16)).view(b, -1, 4, 4)
        verts = (T[..., :3, :3] @ v_posed.unsqueeze(-1)).squeeze(-1) + T[..., :3, 3]
        lmk_faces = self.lmk_faces_idx.unsqueeze(0).expand(b, -1).contiguous()
        lmk_bary = self.lmk_bary_coords.unsqueeze(0).expand(b, -1, -1).contiguous()
        if self.use_face_contour:
            dyn_faces, dyn_bary = find_dynamic_lmk_idx_and_bcoords(
                verts, full_pose, self.dynamic_lmk_faces_idx, self.dynamic_lmk_bary_coords,
                self.neck_kin_chain, pose2rot=False)
            lmk_faces, lmk_bary = torch.cat([lmk_faces, dyn_faces], 1), torch.cat([lmk_bary, dyn_bary], 1)
        landmarks = vertices2landmarks(verts, self.faces, lmk_faces, lmk_bary)
        out = torch.cat([j_posed, verts[:, self.extra_idx], landmarks], dim=1)
        return out + transl.unsqueeze(1)
