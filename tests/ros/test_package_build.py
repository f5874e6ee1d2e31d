"""The full ROS 2 package build (what `colcon build` runs: CMake with the Python packages,
scripts and configs installed) works against the ROS 2 wheels, into a scratch prefix."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_full_package_installs(tmp_path) -> None:
    # Build from a copy, as in a colcon workspace: CMake refuses exported include paths that
    # lie in the source tree, and this checkout's .venv (numpy headers) lies in it.
    src = tmp_path / "src" / "robosmplx"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "out", ".ros_log",
                                                             "__pycache__", "*.egg-info", ".pytest_cache"))
    venv = Path(sys.prefix)
    prefix = tmp_path / "install"
    env = {**os.environ, "AMENT_PREFIX_PATH": str(venv), "CMAKE_PREFIX_PATH": str(venv),
           "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    configure = ["cmake", "-S", str(src), "-B", str(tmp_path / "build"), *gen, "-DBUILD_TESTING=OFF",
                 "-DROBOSMPLX_INSTALL_PYTHON=ON", f"-DCMAKE_INSTALL_PREFIX={prefix}",
                 f"-DPython3_EXECUTABLE={sys.executable}"]
    for cmd in (configure, ["cmake", "--build", str(tmp_path / "build"), "-j2"],
                ["cmake", "--install", str(tmp_path / "build")]):
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    site = next(prefix.glob("lib/python3*/site-packages"))
    for pkg in ("robosmplx_core", "robosmplx_ros", "training"):
        assert (site / pkg / "__init__.py").is_file(), f"{pkg} not installed"
    assert (site / "robosmplx" / "msg" / "_smplx_person_array.py").is_file()
    assert os.access(prefix / "lib" / "robosmplx" / "robosmplx", os.X_OK)
    assert (prefix / "share" / "robosmplx" / "config" / "fastdds_local.xml").is_file()
    assert (prefix / "share" / "robosmplx" / "package.xml").is_file()
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / "robosmplx").is_file()
