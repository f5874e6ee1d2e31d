"""SMPL-X body model (``BodyModel``), joint name maps and the procedural stand-in model."""

from robosmplx_core.body_model.model import BodyModel, BodyModelOutput

__all__ = ["BodyModel", "BodyModelOutput"]
