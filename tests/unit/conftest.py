"""Unit tests run torch single-threaded: faster on 2 shared cores (no spinning second thread)
and the same arithmetic on every machine."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
