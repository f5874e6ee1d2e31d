"""A restricted unpickler for dataset files published as pickles (e.g. 3DPW ``sequenceFiles/*/*.pkl``).

``pickle.load`` runs whatever callables a file names, so a dataset file must never be unpickled
as is. :func:`load_restricted_pickle` resolves only the globals needed to rebuild numpy arrays
and scalars (``ALLOWED_GLOBALS``); plain containers (dict, list, tuple, str, numbers, bytes)
need no globals at all. Anything else raises :class:`UnsafePickleError` before it is called.
Python 2 pickles (3DPW's) are read with ``encoding="latin1"``, as numpy requires.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

__all__ = ["ALLOWED_GLOBALS", "UnsafePickleError", "load_restricted_pickle", "loads_restricted_pickle"]

ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),  # protocol 5 arrays
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol 0-2 pickles of Python 3 store bytes (str -> bytes, no side effect)
    ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),  # only with the numpy classes below
})  # fmt: skip
_RECONSTRUCTOR_CLASSES = frozenset({("numpy", "ndarray")})


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside ``ALLOWED_GLOBALS``; it was not loaded."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(f"refusing to load global {module}.{name}: dataset pickles may only hold "
                                    "numpy arrays, dicts, lists and plain values; convert the file to json/npz "
                                    "with a trusted tool if it needs more")
        if name == "_reconstructor":
            return _checked_reconstructor
        return super().find_class(module, name)


def _checked_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    import copyreg

    if (getattr(cls, "__module__", ""), getattr(cls, "__name__", "")) not in _RECONSTRUCTOR_CLASSES \
            or base is not object:
        raise UnsafePickleError(f"refusing copyreg._reconstructor({cls!r}, {base!r})")
    return copyreg._reconstructor(cls, base, state)


def loads_restricted_pickle(data: bytes) -> Any:
    """Unpickle ``data`` allowing only numpy arrays / scalars and plain containers."""
    return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


def load_restricted_pickle(path: str | Path) -> Any:
    """:func:`loads_restricted_pickle` of a file."""
    return loads_restricted_pickle(Path(path).read_bytes())
