"""One config system: dataclass defaults < YAML < key=value; unknown keys are errors."""

import pytest

from robosmplx_core.config import BodyModelConfig, RoboSMPLXConfig, load_config, save_config


def test_defaults() -> None:
    cfg = load_config()
    assert cfg == RoboSMPLXConfig()
    assert cfg.body_model.num_betas == 10 and cfg.body_model.model_dir is None


def test_yaml_then_overrides(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("body_model:\n  num_betas: 16\n  gender: female\n")
    cfg = load_config(path, ["body_model.num_betas=12", "body_model.use_face_contour=true"])
    assert cfg.body_model == BodyModelConfig(num_betas=12, gender="female", use_face_contour=True)


def test_save_round_trip(tmp_path) -> None:
    cfg = load_config(None, ["body_model.model_dir=/data/smplx", "body_model.num_expression=50"])
    again = load_config(save_config(cfg, tmp_path / "run" / "config.yaml"))
    assert again == cfg


def test_unknown_key_lists_valid_keys(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"unknown config key 'body_model.betas'; valid keys here: model_dir, gender"):
        load_config(None, ["body_model.betas=3"])
    path = tmp_path / "c.yaml"
    path.write_text("bodymodel:\n  num_betas: 16\n")
    with pytest.raises(ValueError, match=rf"{path}: unknown config key 'bodymodel'; valid keys here: body_model"):
        load_config(path)


def test_bad_values() -> None:
    with pytest.raises(ValueError, match="body_model.num_betas.*could not be converted to Integer"):
        load_config(None, ["body_model.num_betas=many"])
    with pytest.raises(ValueError, match="body_model.gender: expected one of"):
        load_config(None, ["body_model.gender=robot"])
    with pytest.raises(ValueError, match="expected key=value"):
        load_config(None, ["body_model.num_betas"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config("/nonexistent/robosmplx.yaml")


def test_robosmplx_backend_needs_a_checkpoint(tmp_path) -> None:
    assert load_config().pipeline.checkpoint is None
    with pytest.raises(ValueError, match=r"pipeline.checkpoint: required when pipeline.backend=robosmplx.*"
                                         r"save_checkpoint.*pipeline.backend=landmarks"):  # fmt: skip
        load_config(None, ["pipeline.backend=robosmplx"])
    with pytest.raises(ValueError, match="pipeline.checkpoint: required"):
        load_config(None, ["pipeline.backend=robosmplx", "pipeline.checkpoint="])
    cfg = load_config(None, ["pipeline.backend=robosmplx", f"pipeline.checkpoint={tmp_path}"])
    assert (cfg.pipeline.backend, cfg.pipeline.checkpoint) == ("robosmplx", str(tmp_path))
    assert load_config(save_config(cfg, tmp_path / "config.yaml")) == cfg
    with pytest.raises(ValueError, match=r"pipeline.backend: expected one of \('landmarks', 'robosmplx'\)"):
        load_config(None, ["pipeline.backend=network"])
