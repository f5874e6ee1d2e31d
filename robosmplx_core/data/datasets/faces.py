"""Face landmark sets (images + 68 iBUG landmarks): FFHQ, AffectNet, BUPT-Balancedface/-Globalface.

RoboSMPLX trains its Face subnetwork on FFHQ / BUPT / AffectNet (mixed 0.5 / 0.2 / 0.3) with 2D
landmarks. One adapter, :class:`FaceLandmarkDataset`, reads the published layouts; ``layout=`` picks
one (nothing here downloads anything; licences and registration apply):

``"ffhq"`` / ``"ffhq_in_the_wild"``: FFHQ (Karras et al., CVPR 2019), https://github.com/NVlabs/ffhq-dataset.
    ``ffhq-dataset-v2.json`` maps an image index ("0" .. "69999") to a record with ``category``
    ("training" = the first 60000, "validation") and, for the aligned 1024 x 1024 image (``image``) and
    the original photo (``in_the_wild``), ``file_path`` (relative to the dataset folder) and
    ``face_landmarks``: 68 ``[x, y]`` pairs found by dlib, in that image's pixels. The 128 x 128
    ``thumbnail`` has no landmarks and is not read.
``"affectnet"``: AffectNet (Mollahosseini et al., 2019), on request from http://mohammadmahoor.com/affectnet/.
    ``Manually_Annotated_file_lists/training.csv`` (or ``validation.csv``): a header row, then
    ``subDirectory_filePath, face_x, face_y, face_width, face_height, facial_landmarks, expression,
    valence, arousal``; ``facial_landmarks`` is 136 numbers ``x0;y0;x1;y1;...`` in full-image pixels;
    ``expression`` 0..10 = Neutral, Happy, Sad, Surprise, Fear, Disgust, Anger, Contempt, None,
    Uncertain, Non-Face. Non-Face rows are skipped ("non_face"). Some copies extract the images to
    ``Manually_Annotated/Manually_Annotated_Images``: pass ``image_dir``.
``"bupt"``: BUPT-Balancedface / BUPT-Globalface (Wang et al., 2019-2020), on request from
    http://www.whdeng.cn/RFW/. The release is IMAGES ONLY (``race_per_7000/<race>/<identity>/<name>.jpg``
    for Balancedface): it has no landmarks. Run a 68-point iBUG detector once (dlib's
    ``shape_predictor_68_face_landmarks``, ``face_alignment``, ...) and write the SIDECAR this
    adapter reads, ``<root>/landmarks68.json``, in FFHQ's schema (only these fields are read)::

        {"<any key>": {"image": {"file_path": "race_per_7000/African/m.0abc/000001.jpg",
                                 "face_landmarks": [[x, y], ... 68 pairs]}}, ...}

    ``file_path`` is relative to ``<root>``; ``"face_landmarks": null`` marks an image without a
    detected face (skipped as "no_landmarks"). The same sidecar serves any other image-only face set.

Landmarks -> Face spec (``nets.specs.FACE_SPEC``: neck + jaw, head, 2 eyeballs, 51 landmarks, 17
contour): iBUG points 0..16 (jaw line, the subject's right ear to the left, 8 = chin) are SMPL-X's
17 contour landmarks ``right_contour_1`` .. ``left_contour_1`` and iBUG points 17..67 (brows, nose,
eyes, mouth) are SMPL-X's 51 static landmarks in order (``body_model.joints``: iBUG 30 = ``nose4``,
the tip; 36 / 45 = ``right_eye1`` / ``left_eye1``, outer eye corners; 48 / 54 = ``right_mouth_1`` /
``left_mouth_1``) -- the same map as COCO-WholeBody's face points. Neck, jaw, head and the eyeballs
have no iBUG counterpart: confidence 0. Every landmark is labelled (confidence 1). Coordinates are
taken as published (dlib and AffectNet give pixel indices; no half-pixel shift, as for COCO).

Samples: ``part="face"`` crops; the crop box is the tight box of the 68 landmarks, squared and
enlarged by ``CropConfig.scale`` (default 1.4 = ``NetworkConfig.face_box_scale``, how the whole-body
network derives face crops from its face keypoints); ``face_box_cxcys`` is that tight box. No SMPL-X
parameters, 3D joints or intrinsics (virtual ``K``). The AffectNet expression label is kept:
:meth:`FaceLandmarkDataset.expression`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from robosmplx_core.body_model.joints import SMPLX_FACE_CONTOUR_NAMES, SMPLX_FACE_LANDMARK_NAMES
from robosmplx_core.data.datasets.common import (
    AdapterDataset, DatasetError, SampleError, TrainingSample, keypoints_to_spec, read_image_rgb, read_json,
    require_dir, require_file,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample

__all__ = ["IBUG68_SMPLX_NAMES", "FFHQ_LAYOUT", "AFFECTNET_LAYOUT", "BUPT_LAYOUT", "FACE_LAYOUTS", "FaceLayout",
           "AFFECTNET_EXPRESSIONS", "FaceLandmarkDataset", "parse_ibug68"]

IBUG68_SMPLX_NAMES: tuple[str, ...] = SMPLX_FACE_CONTOUR_NAMES + SMPLX_FACE_LANDMARK_NAMES
"""SMPL-X 144-set name of each of the 68 iBUG landmarks (index k = iBUG point k, 0-based)."""

AFFECTNET_EXPRESSIONS = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt", "none",
                         "uncertain", "non_face")
"""AffectNet's ``expression`` codes 0..10."""
_AFFECTNET_NON_FACE = 10
_AFFECTNET_COLUMNS = ("subDirectory_filePath", "facial_landmarks", "expression")

FFHQ_LAYOUT = """<root>/
  ffhq-dataset-v2.json                      (FFHQ metadata: image.face_landmarks, in_the_wild.face_landmarks)
  images1024x1024/00000/00000.png ...       (layout "ffhq": aligned 1024 x 1024 images)
  in-the-wild-images/00000/00000.png ...    (layout "ffhq_in_the_wild": original photos)"""
AFFECTNET_LAYOUT = """<root>/
  Manually_Annotated_file_lists/training.csv    (or validation.csv; 136 ';'-separated landmark numbers)
  Manually_Annotated_Images/<subDirectory_filePath>   (e.g. 689/<hash>.jpg; pass image_dir if elsewhere)"""
BUPT_LAYOUT = """<root>/
  race_per_7000/<race>/<identity>/<name>.jpg ...   (BUPT images as published; any sub-folders)
  landmarks68.json   (sidecar YOU create with a 68-point detector, FFHQ's schema:
                      {"<key>": {"image": {"file_path": "<path under root>", "face_landmarks": [[x, y] x 68]}}})"""


@dataclass(frozen=True)
class FaceLayout:
    """One published layout: default annotation file and image folder (relative to the root), the
    folder that must exist, the FFHQ-schema record read (None = AffectNet CSV) and the layout text."""

    annotation_file: str
    image_dir: str  # base of the relative image paths ("" = root)
    required_dir: str | None  # folder that must exist, relative to root
    record: str | None  # FFHQ-schema record read ("image" / "in_the_wild"); None = AffectNet CSV
    doc: str


FACE_LAYOUTS: dict[str, FaceLayout] = {
    "ffhq": FaceLayout("ffhq-dataset-v2.json", "", "images1024x1024", "image", FFHQ_LAYOUT),
    "ffhq_in_the_wild": FaceLayout("ffhq-dataset-v2.json", "", "in-the-wild-images", "in_the_wild", FFHQ_LAYOUT),
    "affectnet": FaceLayout("Manually_Annotated_file_lists/training.csv", "Manually_Annotated_Images",
                         "Manually_Annotated_Images", None, AFFECTNET_LAYOUT),
    "bupt": FaceLayout("landmarks68.json", "", None, "image", BUPT_LAYOUT),
}
"""The layouts :class:`FaceLandmarkDataset` reads, by name."""


def parse_ibug68(value: Any) -> np.ndarray:
    """68 iBUG landmarks -> (68, 2) float64 pixels.

    Accepts 68 ``[x, y]`` pairs (FFHQ), 136 numbers ``x0, y0, x1, ...`` or such a ``';'``-separated
    string (AffectNet).

    Raises:
        SampleError: ``"no_landmarks"`` for None, ``"malformed_landmarks"`` for a wrong count or
            non-finite / non-numeric values.
    """
    if value is None:
        raise SampleError("no_landmarks")
    try:
        if isinstance(value, str):
            value = [v for v in value.strip().split(";") if v.strip()]
        points = np.asarray(value, dtype=np.float64).reshape(68, 2)
    except (TypeError, ValueError) as e:
        raise SampleError("malformed_landmarks", str(e)[:200]) from e
    if not np.isfinite(points).all():
        raise SampleError("malformed_landmarks", "non-finite coordinates")
    return points


def _ffhq_records(data: Any, record: str, category: str | None) -> Iterator[tuple[str, Any, int] | SampleError]:
    for item in data.values():
        if not isinstance(item, dict) or not isinstance(item.get(record), dict):
            yield SampleError("malformed_entry")
            continue
        if category is not None and item.get("category") != category:
            continue
        path = item[record].get("file_path")
        if not isinstance(path, str) or not path:
            yield SampleError("malformed_entry")
            continue
        yield path, item[record].get("face_landmarks"), -1


def _affectnet_rows(path: Path, layout: str) -> Iterator[tuple[str, Any, int] | SampleError]:
    with open(path, encoding="utf-8-sig", newline="") as f:  # tolerate a BOM
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in _AFFECTNET_COLUMNS if c not in header]
        if missing:
            raise DatasetError(f"AffectNet annotations: {path} has no column(s) {missing} in its header {header}; "
                               f"is it an AffectNet file list? Expected layout:\n{layout}")
        col = {c: header.index(c) for c in _AFFECTNET_COLUMNS}
        for row in reader:
            if not row:
                continue
            try:
                image, marks = row[col["subDirectory_filePath"]].strip(), row[col["facial_landmarks"]]
                expression = int(float(row[col["expression"]]))
            except (IndexError, ValueError):
                yield SampleError("malformed_entry")
                continue
            if expression == _AFFECTNET_NON_FACE:
                yield SampleError("non_face")
                continue
            yield image, marks, expression


class FaceLandmarkDataset(AdapterDataset):
    """Face crops with 68 iBUG landmarks as face :class:`TrainingSample` (see the module doc).

    Args:
        root: the dataset folder (see ``FACE_LAYOUTS[layout].doc``).
        layout: "ffhq" | "ffhq_in_the_wild" | "affectnet" | "bupt".
        crop: crop settings (scale applies to the landmarks' tight box).
        annotation_file: annotation file relative to ``root`` (default: the layout's; e.g.
            ``"Manually_Annotated_file_lists/validation.csv"`` for AffectNet's validation set).
        image_dir: folder the annotation's image paths are relative to (default: the layout's).
        category: FFHQ only: keep records of this ``category`` ("training" / "validation");
            None keeps all.

    Raises:
        DatasetError: a missing folder or annotation file, or an annotation file of another
            format; the message names the expected layout.
    """

    name = "faces"

    def __init__(self, root: str | Path, *, layout: str, crop: CropConfig = CropConfig(scale=1.4),
                 annotation_file: str | None = None, image_dir: str | None = None,
                 category: str | None = None) -> None:
        super().__init__(part="face")
        if layout not in FACE_LAYOUTS:
            raise ValueError(f"FaceLandmarkDataset: layout must be one of {sorted(FACE_LAYOUTS)}, got {layout!r}")
        spec = FACE_LAYOUTS[layout]
        if category is not None and not layout.startswith("ffhq"):
            raise ValueError(f"FaceLandmarkDataset: category filters FFHQ records only; got category={category!r} "
                             f"for layout {layout!r} (pick AffectNet's split with annotation_file)")
        self.name, self.layout, self.crop_config = layout.removesuffix("_in_the_wild"), layout, crop
        what = f"{layout} face set"
        self.root = require_dir(Path(root), spec.doc, f"{what} root")
        required = image_dir if image_dir is not None else spec.required_dir
        if required:
            require_dir(self.root / required, spec.doc, f"{what} images")
        self.image_root = self.root / (image_dir if image_dir is not None else spec.image_dir)
        ann_path = self.root / (annotation_file or spec.annotation_file)
        if spec.record is None:
            rows = _affectnet_rows(require_file(ann_path, spec.doc, f"{what} annotations"), spec.doc)
        else:
            data = read_json(ann_path, spec.doc, f"{what} annotations")
            if not isinstance(data, dict):
                raise DatasetError(f"{what} annotations: {ann_path} must be a JSON object of records keyed by "
                                   f"image index (FFHQ's schema). Expected layout:\n{spec.doc}")
            rows = _ffhq_records(data, spec.record, category)
        self._index(rows)

    def _index(self, rows: Iterator[tuple[str, Any, int] | SampleError]) -> None:
        paths: list[str] = []
        marks: list[np.ndarray] = []
        expressions: list[int] = []
        for row in rows:
            if isinstance(row, SampleError):
                self.skip(row.reason)
                continue
            path, raw, expression = row
            try:
                points = parse_ibug68(raw)
            except SampleError as e:
                self.skip(e.reason)
                continue
            if (points.max(axis=0) - points.min(axis=0)).max() < self.crop_config.min_box_px:
                self.skip("tiny_box")
                continue
            paths.append(path)
            marks.append(points.astype(np.float32))
            expressions.append(expression)
        self._paths = paths
        self._landmarks = np.stack(marks) if marks else np.zeros((0, 68, 2), np.float32)  # (N, 68, 2)
        self._expressions = np.asarray(expressions, dtype=np.int16)
        self.entries = list(range(len(paths)))

    def landmarks(self, index: int) -> np.ndarray:
        """(68, 2) float64 iBUG landmarks of entry ``index`` in full-image pixels."""
        return self._landmarks[self.entries[index]].astype(np.float64)

    def expression(self, index: int) -> int:
        """AffectNet expression code (``AFFECTNET_EXPRESSIONS``) of entry ``index``; -1 for other sets."""
        return int(self._expressions[self.entries[index]])

    def load(self, entry: int, index: int) -> TrainingSample:
        image = read_image_rgb(self.image_root / self._paths[entry])
        points = self._landmarks[entry].astype(np.float64)
        j2d, c2d = keypoints_to_spec(points, np.ones(68), IBUG68_SMPLX_NAMES, "face")
        lo, hi = points.min(axis=0), points.max(axis=0)
        box = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (hi - lo).max()])
        labels = PartLabels(joints2d=j2d, joints2d_conf=c2d, face_box_cxcys=box)
        crop = CropTransform.from_box_xywh([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], self.crop_config)
        return build_sample(crop=crop, image_rgb=image, labels=labels, part="face", source=self.name, index=index)
