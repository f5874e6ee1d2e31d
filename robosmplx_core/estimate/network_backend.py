"""The "robosmplx" backend: a trained whole-body network checkpoint behind :class:`PersonBackend`.

    backend = NetworkBackend.from_checkpoint("runs/x/ckpt", device="cpu", num_betas=10, num_expression=10)
    fits = backend(frame, tracks, K)          # list[PersonFit], one per track, track order

How the work is split (``PersonBackend``: ``observe`` = image work in frame order, ``fit`` =
stateless):

- ``observe`` runs the network. The frame's RGB image becomes one normalised float tensor
  ``(1, 3, H, W)`` (``nets.images.normalize_images``), expanded (a view, no copy) to the N
  tracked persons, and ``WholeBodyNetwork`` runs once on the batch of N track boxes. The network
  is image work, and running it here gives each observation a support box (below) that lets the
  tracker follow the person on frames without detection, as the landmarks backend's do.
- ``fit`` is cheap and stateless: the translation is the only output that depends on the
  intrinsics, so ``fit`` computes it from the stored crop camera ``(s, tx, ty)`` and body crop box
  with the K it is given (``geometry.camera.crop_cam_to_full_transl``, as the network's own
  merge step does). ``observe`` feeds the network ``frame.K``, or the default intrinsics when the
  frame has none, only because its forward pass needs some K; that translation is replaced.

Support box: the extent of the network's 137 whole-body joints in image pixels, grown by
``SUPPORT_BOX_GROW``; it is offered only when it overlaps the track box by at least
``SUPPORT_MIN_IOU`` (a network whose joints leave the person's box, e.g. an untrained one, does
not move the track).

Confidence per part: the fraction of the part's crop box that lies inside the image (body: the
track box; hands and face: the network's part boxes). A hand cut from the padding outside the
image has confidence 0 and its pose is a guess. It is geometric visibility, not a calibrated
score: the network has no confidence output yet.

Betas and expression are zero-padded to the body model's counts (extra coefficients at zero
change nothing); a body model with fewer coefficients than the network predicts is refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import torch

from robosmplx_core.checks import check_shape
from robosmplx_core.estimate.backend import SUPPORT_BOX_GROW, PersonBackend, PersonFit, PersonObservation
from robosmplx_core.geometry.boxes import box_iou
from robosmplx_core.geometry.camera import crop_cam_to_full_transl
from robosmplx_core.geometry.projection import default_intrinsics
from robosmplx_core.nets.checkpoint import load_checkpoint
from robosmplx_core.nets.crop import box_center_size, crop_to_image
from robosmplx_core.nets.images import normalize_images
from robosmplx_core.nets.wholebody import WholeBodyNetwork, WholeBodyOutput
from robosmplx_core.types import Frame, PartConfidence, SMPLXParams, Tracks

SUPPORT_MIN_IOU = 0.3  # a joint box overlapping the track box less than this is not the person


@dataclass(frozen=True)
class NetworkEvidence:
    """What ``observe`` keeps of one person for ``fit`` (``PersonObservation.evidence``).

    Fields:
        params: SMPL-X, batch of 1, CPU float32, betas/expression padded to the body model's
            counts; its ``transl`` is replaced by ``fit``.
        camera: (3,) float32 weak-perspective camera (s, tx, ty) of the body crop.
        body_box_xyxy: (4,) float32 square body crop box, pixels.
        image_size_wh: (2,) float32 image (W, H), pixels.
        confidence: per-part confidence (module docstring).
    """

    params: SMPLXParams
    camera: torch.Tensor
    body_box_xyxy: torch.Tensor
    image_size_wh: torch.Tensor
    confidence: PartConfidence


def _pad(x: torch.Tensor, size: int) -> torch.Tensor:
    """(B, n) -> (B, size) with zeros appended (n <= size)."""
    return torch.nn.functional.pad(x, (0, size - int(x.shape[1])))


def _inside_fraction(boxes_xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """(..., 4) boxes -> (...) fraction of each box's area inside the image (0 for empty boxes)."""
    boxes_xyxy = boxes_xyxy.astype(np.float64)
    lo = np.maximum(boxes_xyxy[..., 0:2], 0.0)
    hi = np.minimum(boxes_xyxy[..., 2:4], [width, height])
    inside = np.clip(hi - lo, 0.0, None).prod(-1)
    area = np.clip(boxes_xyxy[..., 2:4] - boxes_xyxy[..., 0:2], 0.0, None).prod(-1)
    return np.clip(np.where(area > 0, inside / np.maximum(area, 1e-12), 0.0), 0.0, 1.0)  # float32 rounding


def _support_boxes(out: WholeBodyOutput, track_boxes: np.ndarray) -> list[Optional[np.ndarray]]:
    """(N, 4) joint-extent boxes in pixels, or None where they miss the track box (module docstring)."""
    xy = crop_to_image(out.body.joints[..., 0:2], out.body_boxes_xyxy).cpu().numpy()  # (N, 137, 2)
    lo, hi = xy.min(1), xy.max(1)
    centre, half = (lo + hi) / 2, (hi - lo) / 2 * SUPPORT_BOX_GROW
    boxes = np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)
    iou = np.diagonal(box_iou(boxes, track_boxes))
    return [box if ok else None for box, ok in zip(boxes, iou >= SUPPORT_MIN_IOU)]


class NetworkBackend(PersonBackend):
    """A :class:`WholeBodyNetwork` per frame on all tracked persons (module docstring).

    Args:
        network: the whole-body network (put in eval mode here).
        num_betas, num_expression: the body model's coefficient counts (outputs are padded).
        device: where the network runs (its parameters are moved there).
    """

    def __init__(self, network: WholeBodyNetwork, *, num_betas: int = 10, num_expression: int = 10,
                 device: str | torch.device = "cpu") -> None:  # fmt: skip
        if not isinstance(network, WholeBodyNetwork):
            raise ValueError(f"NetworkBackend: expected a WholeBodyNetwork, got {type(network).__name__}; the "
                             "robosmplx backend needs a 'wholebody' checkpoint (save_checkpoint with a "
                             "WholeBodyNetwork)")  # fmt: skip
        net_betas, net_expression = network.body.spec.num_betas, network.face.spec.num_expression
        if num_betas < net_betas or num_expression < net_expression:
            raise ValueError(f"NetworkBackend: the network predicts {net_betas} betas and {net_expression} "
                             f"expression coefficients, the body model takes {num_betas} and {num_expression}; "
                             f"set body_model.num_betas>={net_betas} and body_model.num_expression>="
                             f"{net_expression}")  # fmt: skip
        self.device = torch.device(device)
        self.network = network.to(self.device).eval()
        self.num_betas, self.num_expression = int(num_betas), int(num_expression)

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str | torch.device = "cpu", num_betas: int = 10,
                        num_expression: int = 10) -> "NetworkBackend":  # fmt: skip
        """Load a 'wholebody' checkpoint folder (``nets.checkpoint``) onto ``device``.

        Raises:
            FileNotFoundError: the folder or one of its files is missing.
            ValueError: not a whole-body checkpoint, or an unusable one (see ``load_checkpoint``).
        """
        ckpt = load_checkpoint(path, device=device)
        if ckpt.meta.kind != "wholebody":
            raise ValueError(f"checkpoint {path} holds a {ckpt.meta.kind!r} network; pipeline.backend=robosmplx "
                             "needs a 'wholebody' checkpoint (a WholeBodyNetwork saved with save_checkpoint)")
        return cls(ckpt.network, num_betas=num_betas, num_expression=num_expression, device=device)

    def observe(self, frame: Frame, tracks: Tracks) -> list[PersonObservation]:
        """Run the network on every track of ``frame``: one observation per track, track order."""
        n = len(tracks)
        if n == 0:
            return []
        out = self._run(frame, tracks.boxes_xyxy)
        params = dataclasses.replace(out.params, betas=_pad(out.params.betas, self.num_betas),
                                     expression=_pad(out.params.expression, self.num_expression)).to("cpu")
        parts = _inside_fraction(out.part_boxes_xyxy.cpu().numpy(), frame.width, frame.height)  # (N, 3)
        body = _inside_fraction(tracks.boxes_xyxy, frame.width, frame.height)  # (N,)
        supports = _support_boxes(out, tracks.boxes_xyxy)
        camera, body_boxes = out.body.camera.cpu(), out.body_boxes_xyxy.cpu()
        wh = torch.tensor([frame.width, frame.height], dtype=torch.float32)
        seen = []
        for i, tid in enumerate(tracks.track_ids.tolist()):
            conf = PartConfidence(body=body[i], left_hand=parts[i, 0], right_hand=parts[i, 1], face=parts[i, 2])
            evidence = NetworkEvidence(params=params.select(slice(i, i + 1)), camera=camera[i],
                                       body_box_xyxy=body_boxes[i], image_size_wh=wh, confidence=conf)  # fmt: skip
            seen.append(PersonObservation(track_id=tid, box_xyxy=tracks.boxes_xyxy[i], score=float(tracks.scores[i]),
                                          evidence=evidence, support_box_xyxy=supports[i]))  # fmt: skip
        return seen

    @torch.no_grad()
    def _run(self, frame: Frame, boxes_xyxy: np.ndarray) -> WholeBodyOutput:
        """The network on ``boxes_xyxy`` (N, 4) of ``frame`` (module docstring)."""
        n = int(boxes_xyxy.shape[0])
        pixels = torch.from_numpy(np.require(frame.image, requirements=["C", "W"])).to(self.device)
        images = normalize_images(pixels.permute(2, 0, 1)[None]).expand(n, -1, -1, -1)
        K = frame.K if frame.K is not None else default_intrinsics(frame.width, frame.height)
        K = torch.as_tensor(K, dtype=torch.float32, device=self.device).expand(n, 3, 3)
        boxes = torch.as_tensor(boxes_xyxy, dtype=torch.float32, device=self.device)
        return self.network(images, boxes, K)

    def fit(self, observations: list[PersonObservation], K: np.ndarray) -> list[PersonFit]:
        """SMPL-X per observation with the translation for ``K`` (3, 3); no network work."""
        if not observations:
            return []
        check_shape(K, "3 3", name="K")
        evidence = [ob.evidence for ob in observations]
        if not all(isinstance(e, NetworkEvidence) for e in evidence):
            raise ValueError("NetworkBackend.fit: expected observations made by NetworkBackend.observe")
        n = len(evidence)
        k = torch.as_tensor(np.asarray(K), dtype=torch.float32)
        center, size = box_center_size(torch.stack([e.body_box_xyxy for e in evidence]))
        transl = crop_cam_to_full_transl(torch.stack([e.camera for e in evidence]), center, size[:, 0],
                                         torch.stack([e.image_size_wh for e in evidence]), k[0, 0].expand(n),
                                         principal_point_xy=k[0:2, 2].expand(n, 2))  # fmt: skip
        return [PersonFit(track_id=ob.track_id, box_xyxy=ob.box_xyxy, score=ob.score,
                          params=dataclasses.replace(e.params, transl=transl[i:i + 1]), confidence=e.confidence)
                for i, (ob, e) in enumerate(zip(observations, evidence))]  # fmt: skip

    def drop(self, track_ids: Iterable[int]) -> None:
        """No per-track state."""

    def reset(self) -> None:
        """No state."""
