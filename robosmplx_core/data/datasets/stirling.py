"""Stirling/ESRC 3D face benchmark (Feng et al., FG 2018), as published: photos + 3D scans.

The face evaluation set of RoboSMPLX (3DRMSE, paper Table 3), as used by ExPose and mmhuman3d.
Obtain (licences apply; nothing here downloads anything):
    - 3D scans: the Stirling/ESRC 3D face database, http://pics.stir.ac.uk/ESRC/ (neutral-expression
      scans ``F_3D_N`` / ``M_3D_N``, ``.obj`` in millimetres);
    - photos: the FG 2018 challenge subset ``Subset_2D_FG2018`` (``HQ`` and ``LQ`` sets,
      https://facer2vm.org/fg2018.html);
    - landmarks: ``annotations/`` of https://github.com/patrikhuber/fg2018-competition (one ``.lnd``
      per scan: 7 rows ``i x y z``, millimetres, in the order of ``STIRLING_LANDMARK_NAMES``).

Expected layout::

    <root>/
      Subset_2D_FG2018/HQ/F1001_<...>.jpg ...     photos; the subject id is the name up to the first "_"
      F_3D_N/F1001_N.obj, M_3D_N/m1001_N.obj ...   scan of each subject (the folder is the id's first letter)
      annotations/F_3D_N/F1001_N.lnd ...          7 landmarks of each scan

Ids are matched case-insensitively (the release mixes ``F1001_N`` and ``f1011_N``). Photos without a
scan or landmark file are skipped ("missing_scan" / "missing_landmarks").

Samples (``part="face"``): the crop is the whole photo (the photos are face crops; ExPose and
mmhuman3d use the full image as the box), squared about its centre and scaled by
``CropConfig.scale`` (default 1.0). There are no 2D labels, SMPL-X parameters or intrinsics
(virtual ``K``); the ground truth is the scan: ``dataset.scan(sample.index)`` (use the sample's
``index``: an unreadable photo makes ``dataset[i]`` return the next entry).

:class:`StirlingScan` conventions: metres (the files' millimetres / 1000), in the SCAN's frame
(x towards the subject's left, y up, z out of the face, as the published landmarks show), which is
NOT the camera frame of the photo: the photos are uncalibrated. The benchmark (FG 2018 script,
mmhuman3d's ``fg_vertices_to_mesh_distance``) therefore compares as follows:
    1. fit the similarity transform taking the 7 predicted landmarks onto ``scan.landmarks``
       (``eval.align.fit_similarity``; predicted landmarks = ``STIRLING_LANDMARK_FACE_INDICES`` of
       the Face spec's joints, or the same SMPL-X landmarks of the predicted mesh) and apply it to
       the predicted face vertices;
    2. keep the scan vertices inside the inner-face sphere, ``scan.evaluation_mask()``;
    3. distances from those scan vertices to the aligned prediction:
       ``eval.surface.rmse_3d_mm(pred_aligned[None], scan.vertices[mask][None], procrustes=False)``.
The references measure point-to-SURFACE distance and report the MEAN (mmhuman3d) of it;
``rmse_3d_mm`` is point-to-vertex and root-mean-square (see its docstring).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robosmplx_core.data.datasets.common import (
    AdapterDataset, DatasetError, SampleError, TrainingSample, read_image_rgb, require_dir,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample
from robosmplx_core.nets.specs import part_spec

__all__ = ["STIRLING_LAYOUT", "STIRLING_LANDMARK_NAMES", "STIRLING_LANDMARK_FACE_INDICES", "MM_TO_M", "StirlingScan",
           "StirlingDataset", "read_obj_mesh", "read_lnd_landmarks"]

STIRLING_LAYOUT = """<root>/
  Subset_2D_FG2018/HQ/<ID>_*.jpg          (FG 2018 photos; LQ/ for the low-quality set)
  F_3D_N/<ID>_N.obj, M_3D_N/<ID>_N.obj    (Stirling/ESRC neutral 3D scans, millimetres)
  annotations/F_3D_N/<ID>_N.lnd, annotations/M_3D_N/<ID>_N.lnd   (7 landmarks per scan, fg2018-competition)"""

STIRLING_LANDMARK_NAMES: tuple[str, ...] = (
    "right_eye1", "right_eye4", "left_eye4", "left_eye1", "nose_middle", "right_mouth_1", "left_mouth_1",
)  # fmt: skip
"""SMPL-X names of the 7 benchmark landmarks, in the ``.lnd`` order: right eye outer and inner
corner, left eye inner and outer corner, nose bottom (iBUG 33), right and left mouth corner."""
STIRLING_LANDMARK_FACE_INDICES: tuple[int, ...] = tuple(part_spec("face").joint_names.index(n)
                                                        for n in STIRLING_LANDMARK_NAMES)
"""Indices of ``STIRLING_LANDMARK_NAMES`` in the Face spec's J = 73 joints."""
MM_TO_M = 1e-3
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


@dataclass(frozen=True)
class StirlingScan:
    """One ground-truth scan, metres, in the scan's frame (see the module doc).

    Fields:
        vertices: (N, 3) float64 scan points.
        faces: (F, 3) int64 triangles into ``vertices`` (polygons fan-triangulated; (0, 3) if none).
        landmarks: (7, 3) float64 in ``STIRLING_LANDMARK_NAMES`` order.
        subject: the subject id as written in the scan's file name (e.g. "F1001").
    """

    vertices: np.ndarray
    faces: np.ndarray
    landmarks: np.ndarray
    subject: str

    def evaluation_mask(self, radius_factor: float = 1.2) -> np.ndarray:
        """(N,) bool: the scan vertices of the benchmark's inner-face region.

        The sphere around ``c = nose_bottom + 0.3 (nose_bridge - nose_bottom)`` (nose bridge = the
        inner eye corners' midpoint) of radius ``radius_factor * (outer_eye_dist + |nose_bridge -
        nose_bottom|) / 2``, as mmhuman3d evaluates RoboSMPLX / ExPose (factor 1.2). The FG 2018
        script writes factor 1.5 with ``|outer_r + outer_l|`` (a sum, likely a typo) for the eye
        distance; pass ``radius_factor`` to reproduce other variants of the radius.
        """
        lm = self.landmarks
        bottom, bridge = lm[4], (lm[1] + lm[2]) / 2
        centre = bottom + 0.3 * (bridge - bottom)
        radius = radius_factor * (np.linalg.norm(lm[0] - lm[3]) + np.linalg.norm(bridge - bottom)) / 2
        return np.linalg.norm(self.vertices - centre, axis=1) <= radius


def read_lnd_landmarks(path: Path) -> np.ndarray:
    """(7, 3) float64 landmarks of a ``.lnd`` file, in the file's units (mm).

    Rows are ``i x y z`` (fg2018-competition annotations) or ``x y z``; blank lines are ignored.

    Raises:
        SampleError: ``"malformed_landmarks"`` for another row count or unparsable numbers.
    """
    try:
        rows = [ln.split() for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]
        points = np.array([[float(v) for v in (r[1:4] if len(r) == 4 else r)] for r in rows], dtype=np.float64)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise SampleError("malformed_landmarks", f"{path}: {e}") from e
    if points.shape != (7, 3) or not np.isfinite(points).all():
        raise SampleError("malformed_landmarks", f"{path}: expected 7 rows 'i x y z', got shape {points.shape}")
    return points


def read_obj_mesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) float64 and triangles (F, 3) int64 of a Wavefront ``.obj`` file.

    Reads ``v x y z [...]`` and ``f a b c [...]`` lines (``a``, ``a/t`` or ``a/t/n``; 1-based, negative
    = relative to the vertices so far); polygons are fan-triangulated; other lines are ignored.

    Raises:
        SampleError: ``"malformed_scan"``: unreadable file, bad numbers, no vertices, out-of-range faces.
    """
    verts: list[list[float]] = []
    faces: list[tuple[int, int, int]] = []
    try:
        with open(path, encoding="utf-8", errors="strict") as f:
            for line in f:
                if line.startswith("v "):
                    verts.append([float(v) for v in line.split()[1:4]])
                elif line.startswith("f "):
                    idx = [int(tok.split("/")[0]) for tok in line.split()[1:]]
                    idx = [i - 1 if i > 0 else len(verts) + i for i in idx]
                    faces.extend((idx[0], idx[k], idx[k + 1]) for k in range(1, len(idx) - 1))
        v = np.array(verts, dtype=np.float64).reshape(-1, 3)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise SampleError("malformed_scan", f"{path}: {e}") from e
    tri = np.array(faces, dtype=np.int64).reshape(-1, 3)
    if len(v) == 0 or not np.isfinite(v).all() or (tri.size and (tri.min() < 0 or tri.max() >= len(v))):
        raise SampleError("malformed_scan", f"{path}: no finite vertices or a face index out of range")
    return v, tri


@dataclass(frozen=True)
class _Entry:
    image: Path
    scan: Path
    landmarks_mm: np.ndarray  # (7, 3)


def _files_by_name(folder: Path, suffix: str) -> dict[str, Path]:
    """Lower-cased file name -> path of the files in ``folder`` ending in ``suffix`` (any case)."""
    if not folder.is_dir():
        return {}
    return {p.name.lower(): p for p in folder.iterdir() if p.name.lower().endswith(suffix)}


class StirlingDataset(AdapterDataset):
    """Stirling/ESRC photos as face :class:`TrainingSample` crops plus their scans (see the module doc).

    Args:
        root: the dataset folder (``STIRLING_LAYOUT``).
        quality: "HQ" | "LQ", the photo set (RoboSMPLX reports HQ).
        crop: crop settings; the box is the whole photo.

    Raises:
        DatasetError: missing photo, scan or annotation folders, or no photo at all.
    """

    name = "stirling"

    def __init__(self, root: str | Path, *, quality: str = "HQ", crop: CropConfig = CropConfig(scale=1.0)) -> None:
        super().__init__(part="face")
        if quality not in ("HQ", "LQ"):
            raise ValueError(f"StirlingDataset: quality must be 'HQ' or 'LQ', got {quality!r}")
        self.root = require_dir(Path(root), STIRLING_LAYOUT, "Stirling root")
        self.crop_config = crop
        images = require_dir(self.root / "Subset_2D_FG2018" / quality, STIRLING_LAYOUT, "Stirling photos")
        require_dir(self.root / "annotations", STIRLING_LAYOUT, "Stirling landmark annotations")
        if not any((self.root / f"{g}_3D_N").is_dir() for g in "FM"):
            raise DatasetError(f"Stirling scans: neither {self.root / 'F_3D_N'} nor {self.root / 'M_3D_N'} exists; "
                               f"extract the Stirling/ESRC 3D scans there. Expected layout:\n{STIRLING_LAYOUT}")
        scans = {g: _files_by_name(self.root / f"{g}_3D_N", ".obj") for g in "FM"}
        lnds = {g: _files_by_name(self.root / "annotations" / f"{g}_3D_N", ".lnd") for g in "FM"}
        paths = sorted(p for p in images.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        if not paths:
            raise DatasetError(f"Stirling photos: {images} holds no images; extract Subset_2D_FG2018 there. "
                               f"Expected layout:\n{STIRLING_LAYOUT}")
        for path in paths:
            self._index(path, scans, lnds)
        self._cache: tuple[Path, StirlingScan] | None = None

    def _index(self, path: Path, scans: dict[str, dict[str, Path]], lnds: dict[str, dict[str, Path]]) -> None:
        subject = path.stem.split("_")[0].lower()
        gender = subject[:1].upper()
        if gender not in scans or not re.fullmatch(r"[a-z0-9]+", subject):
            return self.skip("unknown_subject")
        scan, lnd = scans[gender].get(f"{subject}_n.obj"), lnds[gender].get(f"{subject}_n.lnd")
        if scan is None:
            return self.skip("missing_scan")
        if lnd is None:
            return self.skip("missing_landmarks")
        try:
            landmarks = read_lnd_landmarks(lnd)
        except SampleError as e:
            return self.skip(e.reason)
        self.entries.append(_Entry(image=path, scan=scan, landmarks_mm=landmarks))

    def subject(self, index: int) -> str:
        """The subject id of entry ``index`` as written in its scan's file name (e.g. "F1001")."""
        return self.entries[index].scan.stem.rsplit("_", 1)[0]

    def scan(self, index: int) -> StirlingScan | None:
        """The ground-truth scan of entry ``index`` (metres, scan frame), or None when its ``.obj``
        cannot be read (counted in ``skipped["malformed_scan"]``). The last scan is cached: photos
        of one subject share it."""
        entry: _Entry = self.entries[index]
        if self._cache is not None and self._cache[0] == entry.scan:
            return self._cache[1]
        try:
            vertices, faces = read_obj_mesh(entry.scan)
        except SampleError as e:
            self.skip(e.reason)
            return None
        out = StirlingScan(vertices=vertices * MM_TO_M, faces=faces, landmarks=entry.landmarks_mm * MM_TO_M,
                           subject=self.subject(index))
        self._cache = (entry.scan, out)
        return out

    def load(self, entry: _Entry, index: int) -> TrainingSample:
        image = read_image_rgb(entry.image)
        h, w = image.shape[:2]
        j = part_spec("face").num_joints
        labels = PartLabels(joints2d=np.zeros((j, 2)), joints2d_conf=np.zeros(j, np.float32))
        crop = CropTransform.from_box_xywh([0.0, 0.0, float(w), float(h)], self.crop_config)
        return build_sample(crop=crop, image_rgb=image, labels=labels, part="face", source=self.name, index=index)

