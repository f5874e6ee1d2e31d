"""`benchmarks/learning_check.py` refuses a device this torch build cannot use, before any rendering."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_device_without_cuda_is_a_clear_error(tmp_path) -> None:
    out = tmp_path / "lc.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "learning_check.py"), "--device", "cuda",
                           "--minutes", "0.01", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "--device cuda" in proc.stderr and "use --device cpu" in proc.stderr
    assert "render" not in proc.stderr and not out.exists()
