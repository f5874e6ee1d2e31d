"""The restricted unpickler loads numpy/containers and refuses anything that would run code."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from robosmplx_core.data.datasets.safe_pickle import UnsafePickleError, load_restricted_pickle, loads_restricted_pickle


def test_loads_numpy_arrays_and_containers(tmp_path: Path) -> None:
    seq = {"poses": [np.arange(6, dtype=np.float64).reshape(2, 3)], "genders": ["f"], "cam_intrinsics": np.eye(3),
           "img_frame_ids": np.arange(3), "campose_valid": [np.array([True, False])], "n": np.float32(2.5)}
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        (tmp_path / "s.pkl").write_bytes(pickle.dumps(seq, protocol=protocol))
        out = load_restricted_pickle(tmp_path / "s.pkl")
        np.testing.assert_array_equal(out["poses"][0], seq["poses"][0])
        assert out["genders"] == ["f"] and out["n"] == np.float32(2.5) and out["campose_valid"][0].dtype == bool


class _Exploit:
    def __reduce__(self):  # would run a shell command when unpickled
        return (os.system, ("echo pwned",))


def test_refuses_a_malicious_pickle() -> None:
    with pytest.raises(UnsafePickleError, match="system"):
        loads_restricted_pickle(pickle.dumps({"poses": _Exploit()}))
    with pytest.raises(UnsafePickleError):
        loads_restricted_pickle(pickle.dumps(np.array([_Exploit()], dtype=object)))
