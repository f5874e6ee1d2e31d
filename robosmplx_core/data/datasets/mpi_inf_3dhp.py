"""MPI-INF-3DHP training set (Mehta et al., 3DV 2017): multi-view frames with 3D joints.

Obtain with the ``get_dataset.sh`` script of http://vcai.mpi-inf.mpg.de/3dhp-dataset (licence
terms apply; nothing here downloads anything). Expected layout::

    <root>/
      S1/Seq1/annot.mat                              as published (MATLAB v5)
      S1/Seq1/camera.calibration                     as published (Skeletool text file)
      S1/Seq1/imageSequence/video_0.avi ...          as published (not read)
      S1/Seq1/imageFrames/video_0/frame_000001.jpg   frames extracted from video_0.avi, see below
      ... (S1..S8, Seq1..Seq2)

Frames are read as extracted JPEGs, not from the videos: training needs random access to single
frames from several DataLoader workers, which seeking in an AVI does not give reliably or fast.
The layout is the one SPIN and mmhuman3d extract to (frame ``k`` of the video, 0-based, is
``frame_%06d.jpg`` with ``k + 1``), e.g. per camera::

    ffmpeg -i S1/Seq1/imageSequence/video_0.avi -qscale:v 2 S1/Seq1/imageFrames/video_0/frame_%06d.jpg

``annot.mat`` holds, per camera (a 14 x 1 cell array in camera order, ``cameras`` lists the
ids), ``annot2`` (F x 56: 28 joints x (u, v) pixels), ``annot3`` (F x 84: 28 joints x (x, y, z)
in the camera frame, millimetres) and ``univ_annot3`` (the same rescaled to a universal skeleton
height; not read, as its 3D does not project onto ``annot2``). Row ``k`` is video frame ``k``.
``camera.calibration`` gives each camera's ``size`` (w h) and ``intrinsic`` (4 x 4 row-major; its
top-left 3 x 3 is ``K``). The camera frame is OpenCV's (x right, y down, z forward); ``annot3``
is converted to metres, ``annot2`` and ``K`` are used as published (no distortion: ``radial 0``).

Joints (``MPI_INF_3DHP_JOINT_NAMES``, the 28 of the dataset's ``mpii_get_joint_set.m``) mapped onto
the body spec (``MPI_INF_3DHP_TO_SMPLX_NAMES``):

    - shoulders, elbows, wrists, hips, knees, ankles -> the SMPL-X joints of the same name;
    - pelvis (the capture skeleton's root) -> SMPL-X ``pelvis``, as Human3.6M's pelvis is; it
      differs from the SMPL-X pelvis by a few cm, so ``has_pelvis3d`` stays False;
    - dropped, not faked: ``neck`` (the throat; SPIN equates it with LSP's upper neck, while the
      SMPL-X ``neck`` is the base of the neck), ``head`` and ``head_top`` (no SMPL-X joint at
      either place), the four spine joints and the clavicles (no body-spec joint), ``*_hand``
      (a hand end point, not a finger joint), ``*_foot`` and ``*_toe`` (not the spec's big toe /
      heel landmarks).

Every labelled joint has confidence 1 in 2D and 3D (markerless capture gives all 28).

Samples: one body crop per kept frame and camera. Frames are subsampled by ``frame_stride``
(every 10th by default, as SPIN); with ``require_inside`` a frame is kept only when all 28 joints
project inside the image (SPIN's check), else counted as "joints_outside_image". The crop box is
the tight box of all 28 projected joints (scaled by ``CropConfig.scale``). Cameras default to
those SPIN and mmhuman3d train on (0, 1, 2, 4, 5, 6, 7, 8). The test set
(``mpi_inf_3dhp_test_set/TS*/annot_data.mat``) is MATLAB v7.3 (HDF5), which scipy cannot read,
and is not supported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from robosmplx_core.data.datasets.common import (
    AdapterDataset, DatasetError, TrainingSample, keypoints_to_spec, read_image_rgb, require_dir, require_file,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample
from robosmplx_core.data.datasets.common import joints_box_xywh, read_mat

__all__ = ["MPI_INF_3DHP_LAYOUT", "MPI_INF_3DHP_JOINT_NAMES", "MPI_INF_3DHP_TO_SMPLX_NAMES", "MpiInf3dhpDataset",
           "parse_calibration"]

MPI_INF_3DHP_LAYOUT = """<root>/
  S<s>/Seq<q>/annot.mat                            (annot2 / annot3, one cell per camera)
  S<s>/Seq<q>/camera.calibration                   (Skeletool camera calibration)
  S<s>/Seq<q>/imageFrames/video_<c>/frame_%06d.jpg (frames of imageSequence/video_<c>.avi, first = 000001)"""

MPI_INF_3DHP_JOINT_NAMES = (
    "spine3", "spine4", "spine2", "spine", "pelvis", "neck", "head", "head_top", "left_clavicle", "left_shoulder",
    "left_elbow", "left_wrist", "left_hand", "right_clavicle", "right_shoulder", "right_elbow", "right_wrist",
    "right_hand", "left_hip", "left_knee", "left_ankle", "left_foot", "left_toe", "right_hip", "right_knee",
    "right_ankle", "right_foot", "right_toe",
)  # fmt: skip
_KEEP = {"pelvis", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
         "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle"}
MPI_INF_3DHP_TO_SMPLX_NAMES = tuple(n if n in _KEEP else "" for n in MPI_INF_3DHP_JOINT_NAMES)
"""SMPL-X name of each of the 28 joints ("" = none; see the module doc)."""
_J = len(MPI_INF_3DHP_JOINT_NAMES)


def parse_calibration(path: Path) -> dict[int, tuple[np.ndarray, tuple[int, int]]]:
    """Camera id -> ((3, 3) intrinsics ``K``, (width, height)) of a Skeletool ``camera.calibration``.

    Raises:
        DatasetError: the file is missing or holds no complete camera block.
    """
    require_file(path, MPI_INF_3DHP_LAYOUT, "MPI-INF-3DHP camera calibration")
    fields: dict[int, dict[str, list[float]]] = {}
    current = None
    try:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if parts and parts[0] == "name":
                current = int(parts[1])
                fields[current] = {}
            elif parts and current is not None and parts[0] in ("size", "intrinsic"):
                fields[current][parts[0]] = [float(v) for v in parts[1:]]
    except (IndexError, ValueError) as e:
        raise DatasetError(f"MPI-INF-3DHP camera calibration: {path} is malformed ({e}). "
                           f"Expected layout:\n{MPI_INF_3DHP_LAYOUT}") from e
    cameras = {cam: (np.asarray(f["intrinsic"]).reshape(4, 4)[:3, :3], (int(f["size"][0]), int(f["size"][1])))
               for cam, f in fields.items() if len(f.get("intrinsic", ())) == 16 and len(f.get("size", ())) == 2}
    if not cameras:
        raise DatasetError(f"MPI-INF-3DHP camera calibration: no camera with 'size' and 'intrinsic' in {path}. "
                           f"Expected layout:\n{MPI_INF_3DHP_LAYOUT}")
    return cameras


@dataclass(frozen=True)
class _Entry:
    image_path: Path
    joints2d: np.ndarray  # (28, 2) full-image pixels
    joints3d_m: np.ndarray  # (28, 3) camera frame, metres
    K: np.ndarray  # (3, 3), shared by the camera's entries


class MpiInf3dhpDataset(AdapterDataset):
    """MPI-INF-3DHP training frames as body :class:`TrainingSample` crops with 3D joints (see the module doc)."""

    name = "mpi_inf_3dhp"

    def __init__(self, root: str | Path, *, subjects: Sequence[int] = range(1, 9), sequences: Sequence[int] = (1, 2),
                 cameras: Sequence[int] = (0, 1, 2, 4, 5, 6, 7, 8), frame_stride: int = 10,
                 require_inside: bool = True, crop: CropConfig = CropConfig()) -> None:
        super().__init__(part="body")
        if frame_stride < 1 or not subjects or not sequences or not cameras:
            raise ValueError(f"MpiInf3dhpDataset: expected frame_stride >= 1 and some subjects, sequences and "
                             f"cameras, got {frame_stride}, {list(subjects)}, {list(sequences)}, {list(cameras)}")
        self.root = require_dir(Path(root), MPI_INF_3DHP_LAYOUT, "MPI-INF-3DHP root")
        self.crop_config = crop
        self.frame_stride, self.require_inside = frame_stride, require_inside
        for subject in subjects:
            for seq in sequences:
                self._index_sequence(int(subject), int(seq), [int(c) for c in cameras])

    def _index_sequence(self, subject: int, seq: int, cameras: list[int]) -> None:
        seq_dir = require_dir(self.root / f"S{subject}" / f"Seq{seq}", MPI_INF_3DHP_LAYOUT,
                              f"MPI-INF-3DHP S{subject}/Seq{seq}")
        mat = read_mat(seq_dir / "annot.mat", MPI_INF_3DHP_LAYOUT, f"MPI-INF-3DHP S{subject}/Seq{seq} annotations")
        if "annot2" not in mat or "annot3" not in mat:
            raise DatasetError(f"MPI-INF-3DHP S{subject}/Seq{seq}: annot.mat has no 'annot2' / 'annot3' cells; "
                               f"re-extract it. Expected layout:\n{MPI_INF_3DHP_LAYOUT}")
        calibration = parse_calibration(seq_dir / "camera.calibration")
        cells2, cells3 = np.asarray(mat["annot2"]).reshape(-1), np.asarray(mat["annot3"]).reshape(-1)
        ids = [int(c) for c in np.asarray(mat.get("cameras", np.arange(len(cells2)))).reshape(-1)]
        for cam in cameras:
            frame_dir = require_dir(seq_dir / "imageFrames" / f"video_{cam}", MPI_INF_3DHP_LAYOUT,
                                    f"MPI-INF-3DHP S{subject}/Seq{seq} frames of camera {cam} (extract them)")
            if cam not in calibration:
                self.skip("missing_camera")  # counted once per camera block
            elif cam not in ids or ids.index(cam) >= min(len(cells2), len(cells3)):
                self.skip("missing_camera_annotation")
            else:
                self._index_camera(cells2[ids.index(cam)], cells3[ids.index(cam)], calibration[cam], frame_dir)

    def _index_camera(self, annot2: Any, annot3: Any, camera: tuple[np.ndarray, tuple[int, int]],
                      frame_dir: Path) -> None:
        try:
            uv = np.asarray(annot2, dtype=np.float64).reshape(-1, _J, 2)
            xyz = np.asarray(annot3, dtype=np.float64).reshape(-1, _J, 3) / 1000.0
        except (TypeError, ValueError):
            return self.skip("malformed_annotation")  # counted once per camera block
        if len(uv) != len(xyz):
            return self.skip("malformed_annotation")
        K, (width, height) = camera
        for row in range(0, len(uv), self.frame_stride):
            j2, j3 = uv[row], xyz[row]
            if not (np.isfinite(j2).all() and np.isfinite(j3).all() and (j3[:, 2] > 0).all()):
                self.skip("malformed_annotation")
            elif self.require_inside and not ((j2 >= 0) & (j2 < (width, height))).all():
                self.skip("joints_outside_image")
            elif np.ptp(j2, axis=0).max() < self.crop_config.min_box_px:
                self.skip("tiny_box")
            else:
                self.entries.append(_Entry(image_path=frame_dir / f"frame_{row + 1:06d}.jpg",
                                           joints2d=j2.astype(np.float32), joints3d_m=j3.astype(np.float32), K=K))

    def load(self, entry: _Entry, index: int) -> TrainingSample:
        image = read_image_rgb(entry.image_path)
        ones = np.ones(_J, np.float32)
        j2d, c2d = keypoints_to_spec(entry.joints2d, ones, MPI_INF_3DHP_TO_SMPLX_NAMES, "body")
        j3d, c3d = keypoints_to_spec(entry.joints3d_m, ones, MPI_INF_3DHP_TO_SMPLX_NAMES, "body")
        labels = PartLabels(joints2d=j2d, joints2d_conf=c2d, joints3d=j3d, joints3d_conf=c3d, K=entry.K)
        crop = CropTransform.from_box_xywh(joints_box_xywh(entry.joints2d, ones), self.crop_config)
        return build_sample(crop=crop, image_rgb=image, labels=labels, part="body", source=self.name, index=index)
