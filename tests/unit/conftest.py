"""Unit tests run torch single-threaded: faster on 2 shared cores (no spinning second thread)
and the same arithmetic on every machine.

``model`` is the 144-joint body model (``use_face_contour=True``) that the synthetic data, the
objectives and the whole-body stage need, loaded once per session; a test module that needs the
plain 127-joint model defines its own ``model`` fixture, which overrides this one."""

import pytest
import torch

from robosmplx_core.body_model import BodyModel


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def model() -> BodyModel:
    """The 144-joint body model (read-only: tests must not move or modify it)."""
    return BodyModel.load(use_face_contour=True)
