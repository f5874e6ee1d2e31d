"""Build the stand-in SMPL-X arrays and write them as ``<folder>/smplx/SMPLX_NEUTRAL.npz``
in the official SMPL-X npz layout, loadable by unmodified ``smplx.create`` / ``SMPLXLayer``.

The file is byte-for-byte deterministic (fixed seeds, fixed zip timestamps) and holds no
object arrays (it loads with ``np.load(path, allow_pickle=False)``). Arrays (V = 10475):
``v_template (V, 3)``, ``f (F, 3)``, ``shapedirs (V, 3, 400)`` (betas in 0..9, expressions in
300..309), ``posedirs (V, 3, 486)`` (zeros), ``J_regressor (55, V)``, ``weights (V, 55)``,
``kintree_table (2, 55)``, ``hands_components{l,r} (45, 45)``, ``hands_mean{l,r} (45,)``,
``lmk_faces_idx (51,)``, ``lmk_bary_coords (51, 3)``, ``dynamic_lmk_faces_idx (79, 17)``,
``dynamic_lmk_bary_coords (79, 17, 3)``. Units: metres.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from robosmplx_core.body_model.standin.assembly import (
    NUM_VERTICES,
    assemble,
    inverse_permutation,
    keypoint_sources,
    split_to_count,
    vertex_order,
)
from robosmplx_core.body_model.standin.blendshapes import expression_dirs, shape_dirs
from robosmplx_core.body_model.standin.head import head
from robosmplx_core.body_model.standin.landmarks import face_landmarks
from robosmplx_core.body_model.standin.parts import Part, body_parts
from robosmplx_core.body_model.standin.regressor import joint_regressor
from robosmplx_core.body_model.standin.skeleton import NUM_JOINTS, PARENTS, rest_joints

SHAPE_SPACE_DIM = 300  # smplx reads expressions from shapedirs[..., 300:] when dim is 400
SHAPEDIRS_DIM = 400
POSEDIRS_DIM = 9 * (NUM_JOINTS - 1)  # 486
ROOT_PARENT = 4294967295  # the original files store the root's parent as uint32(-1)
HAND_PCA_SEED = 20240611
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def smplx_vertex_ids() -> dict[str, int]:
    """Keypoint vertex indices that smplx reads for SMPL-X (nose, eyes, ears, toes, heels,
    fingertips), from the installed package."""
    from smplx.vertex_ids import vertex_ids

    return dict(vertex_ids["smplx"])


def hand_components(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal ``(45, 45)`` left and right hand "PCA" bases (QR of seeded Gaussians)."""
    rng = np.random.default_rng(seed)
    bases = []
    for _ in range(2):
        q, r = np.linalg.qr(rng.standard_normal((45, 45)))
        bases.append((q * np.sign(np.diag(r))[None, :]).T)
    return bases[0], bases[1]


def build_arrays() -> dict[str, np.ndarray]:
    """All arrays of the stand-in model file, keyed as in SMPLX_NEUTRAL.npz."""
    asm = split_to_count(assemble(body_parts() + [head()]), NUM_VERTICES)
    regressor = joint_regressor(asm, rest_joints())
    dirs = np.zeros((NUM_VERTICES, 3, SHAPEDIRS_DIM))
    dirs[:, :, :10] = shape_dirs(asm)
    dirs[:, :, SHAPE_SPACE_DIM:SHAPE_SPACE_DIM + 10] = expression_dirs(asm)
    head_faces = np.flatnonzero((asm.part[asm.faces] == Part.HEAD).all(axis=1))
    lmk_idx, lmk_bary, dyn_idx, dyn_bary = face_landmarks(asm.vertices, asm.faces, head_faces)

    order = vertex_order(keypoint_sources(asm), smplx_vertex_ids(), NUM_VERTICES)
    new_index = inverse_permutation(order)
    kintree = np.stack([np.array(PARENTS, dtype=np.int64), np.arange(NUM_JOINTS)])
    kintree[0, 0] = ROOT_PARENT
    left, right = hand_components(HAND_PCA_SEED)
    return {
        "v_template": asm.vertices[order].astype(np.float32),
        "f": new_index[asm.faces].astype(np.int32),
        "shapedirs": dirs[order].astype(np.float32),
        "posedirs": np.zeros((NUM_VERTICES, 3, POSEDIRS_DIM), dtype=np.float32),
        "J_regressor": regressor[:, order].astype(np.float32),
        "weights": asm.weights[order].astype(np.float32),
        "kintree_table": kintree,
        "hands_componentsl": left.astype(np.float32),
        "hands_componentsr": right.astype(np.float32),
        "hands_meanl": np.zeros(45, dtype=np.float32),
        "hands_meanr": np.zeros(45, dtype=np.float32),
        "lmk_faces_idx": lmk_idx,
        "lmk_bary_coords": lmk_bary,
        "dynamic_lmk_faces_idx": dyn_idx,
        "dynamic_lmk_bary_coords": dyn_bary,
    }


def _save_npz_deterministic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed`` but with fixed zip timestamps (identical bytes every
    time); written to a temporary file and renamed into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.ascontiguousarray(arrays[key]),
                                          allow_pickle=False)
    os.replace(tmp, path)


def write_standin_model(folder: str | os.PathLike[str]) -> Path:
    """Write the stand-in SMPL-X model to ``<folder>/smplx/SMPLX_NEUTRAL.npz``.

    Load it with ``smplx.create(folder, model_type="smplx", ext="npz", gender="neutral",
    use_pca=False)`` or ``smplx.SMPLXLayer(model_path=<folder>/smplx, ...)``.

    Args:
        folder: the model root folder (created if missing).

    Returns:
        The path of the written file.
    """
    out_dir = Path(folder) / "smplx"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "SMPLX_NEUTRAL.npz"
    _save_npz_deterministic(path, build_arrays())
    return path
