"""BodyModel: path resolution, actionable errors for missing/corrupt files, no unpickling,
and forward shapes through the real ``smplx.SMPLXLayer`` (on the procedural stand-in)."""

import pickle
import shutil

import numpy as np
import pytest
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.files import ENV_VAR, standin_model_file
from robosmplx_core.config import BodyModelConfig
from robosmplx_core.types import SMPLXParams


@pytest.fixture(scope="module")
def model() -> BodyModel:
    return BodyModel.load()


@pytest.fixture()
def model_copy(tmp_path):
    """A model folder in the official layout (<dir>/smplx/SMPLX_NEUTRAL.npz)."""
    target = tmp_path / "models" / "smplx" / "SMPLX_NEUTRAL.npz"
    target.parent.mkdir(parents=True)
    shutil.copy(standin_model_file(), target)
    return tmp_path / "models"


def test_standin_is_default(model, monkeypatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert model.is_standin and model.num_joints == 127
    out = model(SMPLXParams.zeros(2))
    assert out.vertices.shape == (2, 10475, 3) and out.joints.shape == (2, 127, 3)
    assert model.faces.dtype == np.int64 and model.faces.max() == 10474
    assert model.parents[0] == -1 and model.parents.shape == (55,)


def test_face_contour_gives_144(model_copy) -> None:
    m = BodyModel.from_config(BodyModelConfig(model_dir=str(model_copy), use_face_contour=True))
    assert m.num_joints == 144 and m(SMPLXParams.zeros(1)).joints.shape == (1, 144, 3)


def test_transl_shifts_everything(model) -> None:
    p0 = SMPLXParams.zeros(1)
    p1 = SMPLXParams.from_axis_angle(transl=torch.tensor([[0.5, -1.0, 2.0]]))
    a, b = model(p0), model(p1)
    torch.testing.assert_close(b.vertices - a.vertices, torch.tensor([0.5, -1.0, 2.0]).expand(1, 10475, 3))
    torch.testing.assert_close(b.joints - a.joints, torch.tensor([0.5, -1.0, 2.0]).expand(1, 127, 3))


def test_argument_then_env_var(model_copy, monkeypatch, tmp_path) -> None:
    m = BodyModel.load(model_copy)
    assert not m.is_standin and m.model_file == model_copy / "smplx" / "SMPLX_NEUTRAL.npz"
    monkeypatch.setenv(ENV_VAR, str(model_copy / "smplx"))  # the smplx folder itself works too
    assert BodyModel.load().model_file == model_copy / "smplx" / "SMPLX_NEUTRAL.npz"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=rf"\${ENV_VAR}={tmp_path / 'nowhere'}.*smpl-x.is.tue.mpg.de"):
        BodyModel.load()


def test_missing_files_say_where_to_get_them(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"tried .*smplx/SMPLX_NEUTRAL.npz.*smpl-x.is.tue.mpg.de"):
        BodyModel.load(tmp_path)
    (tmp_path / "smplx").mkdir()
    (tmp_path / "smplx" / "SMPLX_FEMALE.pkl").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match=r"only .npz files are supported"):
        BodyModel.load(tmp_path, gender="female")
    with pytest.raises(ValueError, match="gender-neutral only"):
        BodyModel.load(None, gender="male")


def test_corrupt_file_names_path(model_copy) -> None:
    path = model_copy / "smplx" / "SMPLX_NEUTRAL.npz"
    path.write_bytes(path.read_bytes()[:5000])  # truncated download
    with pytest.raises(ValueError, match=rf"{path}.*corrupt or truncated"):
        BodyModel.load(model_copy)
    path.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match=rf"{path} cannot be read as an npz archive"):
        BodyModel.load(model_copy)


def test_missing_and_misshapen_keys(model_copy) -> None:
    path = model_copy / "smplx" / "SMPLX_NEUTRAL.npz"
    data = dict(np.load(standin_model_file(), allow_pickle=False))
    np.savez(path, **{k: v for k, v in data.items() if k != "weights"})
    with pytest.raises(ValueError, match=r"required keys \['weights'\] are missing"):
        BodyModel.load(model_copy)
    np.savez(path, **{**data, "J_regressor": data["J_regressor"][:54]})
    with pytest.raises(ValueError, match=r"key 'J_regressor' has shape \(54, 10475\)"):
        BodyModel.load(model_copy)


def test_pickled_extras_are_stripped_not_unpickled(model_copy, monkeypatch, tmp_path) -> None:
    """Official npz files may carry pickled extras; loading must never unpickle them."""
    monkeypatch.setenv("ROBOSMPLX_CACHE", str(tmp_path / "cache"))
    path = model_copy / "smplx" / "SMPLX_NEUTRAL.npz"
    data = dict(np.load(standin_model_file(), allow_pickle=False))
    extra = np.empty(1, dtype=object)
    extra[0] = {"pelvis": 0}
    np.savez(path, **data, joint2num=extra)

    def refuse(*args, **kwargs):
        raise AssertionError("a model file was unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    m = BodyModel.load(model_copy)
    assert m.model_file == path
    assert m(SMPLXParams.zeros(1)).vertices.shape == (1, 10475, 3)


def test_param_size_mismatch(model) -> None:
    with pytest.raises(ValueError, match=r"SMPLXParams.betas: expected shape \(B, 10\)"):
        model(SMPLXParams.zeros(1, num_betas=16))
    with pytest.raises(ValueError, match="expects SMPLXParams"):
        model({"betas": torch.zeros(1, 10)})


@pytest.mark.parametrize("contour", [False, True])
def test_fast_joints_equal_the_full_forward(model_copy, contour) -> None:
    m = BodyModel.load(model_copy, use_face_contour=contour)
    g = torch.Generator().manual_seed(0)
    p = SMPLXParams.from_axis_angle(
        global_orient=torch.randn(3, 3, generator=g), body_pose=0.4 * torch.randn(3, 21, 3, generator=g),
        left_hand_pose=0.3 * torch.randn(3, 15, 3, generator=g), jaw_pose=0.2 * torch.randn(3, 3, generator=g),
        betas=torch.randn(3, 10, generator=g), expression=torch.randn(3, 10, generator=g),
        transl=torch.randn(3, 3, generator=g))
    with torch.no_grad():
        full, fast = m(p).joints, m.joints(p)
    assert fast.shape == (3, 144 if contour else 127, 3)
    torch.testing.assert_close(fast, full, atol=2e-6, rtol=0)
