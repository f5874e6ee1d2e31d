"""Start and stop the robosmplx node as a subprocess, for the node tests and benchmarks.

One implementation for ``tests/ros/node_probe.py`` (the node tests) and
``benchmarks/node_latency.py``. It lives in the package rather than in ``tests/`` so that the
benchmarks import it without importing from ``tests/`` (and it is not a test module, so pytest
does not collect it). It imports neither rclpy nor numpy: a script calls
:func:`use_local_ros_env` first, then imports rclpy / numpy.

The environment (the values the Makefile exports and ``tests/conftest.py`` sets):

- ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``, always: DDS discovery stays on this host;
- ``ROS_LOG_DIR``: ROS logs inside the repo, ``<repo>/.ros_log`` unless set;
- ``FASTDDS_DEFAULT_PROFILES_FILE``: ``config/fastdds_local.xml`` (large messages) unless set;
- ``ROS_DOMAIN_ID``: 1 + process id % 100 unless set (concurrent runs do not see each other);
- ``OPENBLAS_NUM_THREADS=1``: no spinning OpenBLAS thread stealing the second core (the node
  subprocess always gets 1; :func:`use_local_ros_env` sets it unless set).

The node subprocess inherits the caller's environment with discovery forced to LOCALHOST and
the log folder defaulted to the repo (:func:`node_env`), so every ROS process started from
here keeps both even when the caller skipped :func:`use_local_ros_env`.

``repo`` (default ``REPO``, the checkout this module lives in) is the source checkout whose
``.ros_log`` / ``config/`` are used and where the node runs, as ``python -m robosmplx_ros.node``;
tests and benchmarks pass their own (where an installed robosmplx_ros is found first, ``REPO``
would be its install folder).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["REPO", "use_local_ros_env", "node_env", "node_command", "start_node", "stop_node", "node_process"]

REPO = Path(__file__).resolve().parents[1]
STOP_TIMEOUT_S = 10.0  # SIGINT, then this long for a clean shutdown before SIGKILL


def use_local_ros_env(*, repo: Path = REPO) -> None:
    """Set this process's ROS environment (see module docstring). Call before rclpy is imported:
    rclpy, Fast DDS and the ROS logger read it once; subprocesses inherit it."""
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("ROS_LOG_DIR", str(Path(repo) / ".ros_log"))
    os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(Path(repo) / "config" / "fastdds_local.xml"))
    os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def node_env(*, repo: Path = REPO) -> dict[str, str]:
    """The node subprocess's environment: this process's, with discovery on this host, logs in
    ``repo`` unless ``ROS_LOG_DIR`` is set, and ``OPENBLAS_NUM_THREADS=1``."""
    return {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
            "ROS_LOG_DIR": os.environ.get("ROS_LOG_DIR", str(Path(repo) / ".ros_log")), "OPENBLAS_NUM_THREADS": "1"}


def node_command(*params: str, node_name: str = "robosmplx") -> list[str]:
    """``python -m robosmplx_ros.node --ros-args -r __node:=NAME -p PARAM ...`` (each of
    ``params`` is ``name:=value``)."""
    args = [sys.executable, "-m", "robosmplx_ros.node", "--ros-args", "-r", f"__node:={node_name}"]
    for p in params:
        args += ["-p", p]
    return args


def start_node(log_path: Path, *params: str, node_name: str = "robosmplx", repo: Path = REPO) -> subprocess.Popen:
    """Start the node (:func:`node_command`) in ``repo`` with :func:`node_env`; its stdout and
    stderr go to ``log_path`` (folder created). Stop it with :func:`stop_node`, or use
    :func:`node_process`."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:  # the child keeps its own copy of the file descriptor
        return subprocess.Popen(node_command(*params, node_name=node_name), stdout=log, stderr=subprocess.STDOUT,
                                cwd=repo, env=node_env(repo=repo))


def stop_node(proc: subprocess.Popen) -> None:
    """Stop a running node: SIGINT (a clean shutdown), then SIGKILL after ``STOP_TIMEOUT_S``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def node_process(log_path: Path, *params: str, node_name: str = "robosmplx",
                 repo: Path = REPO) -> Iterator[subprocess.Popen]:
    """:func:`start_node` as a context manager: the node is always stopped (:func:`stop_node`)
    on exit."""
    proc = start_node(log_path, *params, node_name=node_name, repo=repo)
    try:
        yield proc
    finally:
        stop_node(proc)
