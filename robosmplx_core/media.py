"""Sample media with people (fetched at set-up by ``tools/fetch_media.sh``; never committed).

The cache is ``$ROBOSMPLX_CACHE/media`` (default ``~/.cache/robosmplx/media``):
``vtest.avi`` (768x576, 10 fps, several pedestrians), ``messi5.jpg`` (one person, full body),
``basketball1.png`` (two people, grayscale), ``astronaut.png`` (one person, upper body).
"""

from __future__ import annotations

import os
from pathlib import Path

SAMPLES = ("vtest.avi", "messi5.jpg", "basketball1.png", "astronaut.png")


def cache_dir() -> Path:
    """Root of robosmplx's cache: ``$ROBOSMPLX_CACHE`` or ``~/.cache/robosmplx``."""
    env = os.environ.get("ROBOSMPLX_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "robosmplx"


def media_dir() -> Path:
    """Folder holding the sample media."""
    return cache_dir() / "media"


def sample_path(name: str) -> Path:
    """Path of one sample file, e.g. ``sample_path("messi5.jpg")``.

    Raises:
        ValueError: ``name`` is not one of :data:`SAMPLES`.
        FileNotFoundError: the file has not been fetched (says how to fetch it).
    """
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; available: {', '.join(SAMPLES)}")
    path = media_dir() / name
    if not path.is_file():
        raise FileNotFoundError(
            f"sample media {path} is missing; run `make setup` (or `bash tools/fetch_media.sh`) to fetch it"
        )
    return path
