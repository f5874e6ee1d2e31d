"""Export tests run torch single-threaded (as the unit tests)."""

from tests.unit.conftest import _one_torch_thread  # noqa: F401
