"""Finding, validating and sanitising SMPL-X model files (no unpickling of user files).

Resolution order for the model folder: the explicit argument, then ``$ROBOSMPLX_MODEL_DIR``,
then the procedural stand-in (generated once into the cache). A folder may hold
``smplx/SMPLX_<GENDER>.npz`` or ``SMPLX_<GENDER>.npz`` directly; a path to the npz works too.
Files are opened with ``np.load(allow_pickle=False)``; official files that also carry pickled
extras (e.g. name dictionaries) are copied once, without those extras, into the cache, so the
``smplx`` loader (which uses ``allow_pickle=True``) never unpickles anything.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from robosmplx_core.media import cache_dir

ENV_VAR = "ROBOSMPLX_MODEL_DIR"
NUM_JOINTS = 55
DOWNLOAD_HINT = (
    "SMPL-X model files are licensed and not shipped with robosmplx: register at "
    "https://smpl-x.is.tue.mpg.de, download 'SMPL-X v1.1 (NPZ+PKL)', unpack it so that "
    "<dir>/smplx/SMPLX_NEUTRAL.npz exists, and pass model_dir=<dir> (config body_model.model_dir) "
    f"or export {ENV_VAR}=<dir>. Leave both unset to use the procedural stand-in model."
)
# key -> expected shape, with V vertices, F faces, K shape+expression components.
REQUIRED_KEYS: dict[str, tuple] = {
    "v_template": ("V", 3),
    "f": ("F", 3),
    "shapedirs": ("V", 3, "K"),
    "posedirs": ("V", 3, (NUM_JOINTS - 1) * 9),
    "J_regressor": (NUM_JOINTS, "V"),
    "weights": ("V", NUM_JOINTS),
    "kintree_table": (2, NUM_JOINTS),
    "hands_componentsl": (45, 45),
    "hands_componentsr": (45, 45),
    "hands_meanl": (45,),
    "hands_meanr": (45,),
    "lmk_faces_idx": (51,),
    "lmk_bary_coords": (51, 3),
}
CONTOUR_KEYS = ("dynamic_lmk_faces_idx", "dynamic_lmk_bary_coords")


def find_model_file(model_dir: str | Path | None, gender: str = "neutral") -> Path | None:
    """The SMPL-X npz to load, or None for the stand-in (no argument and no env var).

    Raises:
        FileNotFoundError: the given folder/file (or ``$ROBOSMPLX_MODEL_DIR``) holds no
            ``SMPLX_<GENDER>.npz``; the message lists the paths tried and where to get files.
    """
    origin = "model_dir"
    if model_dir is None:
        env = os.environ.get(ENV_VAR)
        if not env:
            return None
        model_dir, origin = env, f"${ENV_VAR}"
    root = Path(model_dir).expanduser()
    name = f"SMPLX_{gender.upper()}.npz"
    candidates = [root] if root.suffix == ".npz" else [root / "smplx" / name, root / name]
    for cand in candidates:
        if cand.is_file():
            return cand
    pkl = [c.with_suffix(".pkl") for c in candidates if c.with_suffix(".pkl").is_file()]
    extra = (f" Found {pkl[0]}, but only .npz files are supported (.pkl files need chumpy and "
             "unpickling); use the npz from the same download." if pkl else "")
    raise FileNotFoundError(
        f"no SMPL-X model file for gender={gender!r} at {origin}={root}; tried "
        f"{', '.join(str(c) for c in candidates)}.{extra} {DOWNLOAD_HINT}"
    )


def _check_key_shapes(path: Path, arrays: dict[str, np.ndarray], use_face_contour: bool) -> None:
    sizes: dict[str, int] = {}
    for key, spec in REQUIRED_KEYS.items():
        shape = arrays[key].shape
        ok = len(shape) == len(spec)
        for got, want in zip(shape, spec):
            if isinstance(want, str):
                ok = ok and sizes.setdefault(want, got) == got
            else:
                ok = ok and got == want
        if not ok:
            raise ValueError(f"SMPL-X file {path}: key {key!r} has shape {shape}, expected "
                             f"{spec} (V vertices, F faces, K blend shapes); the file is corrupt or "
                             f"not an SMPL-X model. {DOWNLOAD_HINT}")
    if use_face_contour and not all(k in arrays for k in CONTOUR_KEYS):
        raise ValueError(f"SMPL-X file {path} has no face-contour data ({', '.join(CONTOUR_KEYS)}); "
                         "set body_model.use_face_contour=false or use a model file that has it")


def validate_model_file(path: Path, *, use_face_contour: bool = False) -> list[str]:
    """Check ``path`` is a loadable SMPL-X npz without unpickling anything.

    Returns:
        Keys that hold pickled objects (they must be stripped before ``smplx`` loads the file).

    Raises:
        ValueError: not an npz archive, a required key missing or pickled, or wrong shapes;
            the message names the file and the key.
    """
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"SMPL-X file {path} cannot be read as an npz archive ({exc}); "
                         f"it is corrupt or truncated. {DOWNLOAD_HINT}") from None
    arrays: dict[str, np.ndarray] = {}
    pickled: list[str] = []
    with archive:
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError:  # object array: refused because allow_pickle=False
                pickled.append(key)
            except (OSError, zipfile.BadZipFile, EOFError) as exc:
                raise ValueError(f"SMPL-X file {path}: key {key!r} is unreadable ({exc}); the file "
                                 f"is corrupt or truncated. {DOWNLOAD_HINT}") from None
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        why = "stored as pickled objects" if set(missing) & set(pickled) else "missing"
        raise ValueError(f"SMPL-X file {path}: required keys {missing} are {why}; this is not an "
                         f"SMPL-X npz model. {DOWNLOAD_HINT}")
    _check_key_shapes(path, arrays, use_face_contour)
    return pickled


def sanitized_copy(path: Path, drop_keys: list[str]) -> Path:
    """A cached copy of ``path`` without ``drop_keys`` (pickled extras); reused across runs."""
    stat = path.stat()
    tag = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    out = cache_dir() / "models" / tag / path.name
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with np.load(path, allow_pickle=False) as archive:
        keep = {k: archive[k] for k in archive.files if k not in drop_keys}
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=out.parent)
    os.close(fd)
    np.savez(tmp, **keep)
    os.replace(tmp, out)
    return out


def standin_model_file() -> Path:
    """The stand-in SMPLX_NEUTRAL.npz, generated once per generator version into the cache."""
    from robosmplx_core.body_model import standin

    src = Path(standin.__file__).parent
    digest = hashlib.sha256()
    for f in sorted(src.glob("*.py")):
        digest.update(f.read_bytes())
    folder = cache_dir() / "standin" / digest.hexdigest()[:12]
    target = folder / "smplx" / "SMPLX_NEUTRAL.npz"
    if target.is_file():
        return target
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
    try:
        standin.write_standin_model(tmp)
        try:
            os.replace(tmp, folder)  # atomic; another process may have won the race
        except OSError:
            if not target.is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
