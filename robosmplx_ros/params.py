"""The node's ROS parameters: one literal table, declared with descriptors, read into a dataclass.

Estimator settings come from the core config system (``robosmplx_core.config``): the YAML file
``config_file`` (a robosmplx config, not a ROS params file), then the typed shortcuts below
(applied only when set: "" / 0 mean "keep the config's value"), then ``overrides``
(``key=value`` strings, e.g. ``tracker.min_hits=3``), last wins. All parameters are read-only
(read once at start-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import IntegerRange, ParameterDescriptor, ParameterType

from robosmplx_core.config import RoboSMPLXConfig, load_config

IMAGE_TRANSPORTS = ("raw", "compressed")

# name -> (default, description); the type follows the default (overrides: string array).
PARAMETERS: dict[str, tuple[Any, str]] = {
    "config_file": ("", "robosmplx config YAML (robosmplx_core.config); '' = built-in defaults"),
    "overrides": ([], "core config overrides as key=value strings, e.g. ['tracker.min_hits=3']; applied last"),
    "backend": ("", "pipeline.backend ('landmarks' | 'robosmplx'); '' = from the config"),
    "checkpoint": ("", "pipeline.checkpoint: whole-body network checkpoint folder (weights.safetensors, "
                       "network.yaml, meta.json) for backend 'robosmplx'; '' = from the config"),
    "model_dir": ("", "body_model.model_dir: folder with smplx/SMPLX_NEUTRAL.npz; '' = config, "
                      "$ROBOSMPLX_MODEL_DIR, then the procedural stand-in"),
    "max_persons": (0, "detector.max_persons: most persons per image; 0 = from the config"),
    "max_tracking_instances": (0, "pipeline.max_tracking_instances: MediaPipe instances in tracking "
                                  "mode (~200 MB each; more tracks share one); 0 = from the config"),
    "image_transport": ("raw", "'raw' subscribes image (sensor_msgs/Image), 'compressed' subscribes "
                               "image/compressed (sensor_msgs/CompressedImage)"),
    "camera_frame": ("", "frame id of every output; '' = the image header's frame_id"),
    "publish_joint_states": (True, "publish /humans/bodies/<id>/joint_states"),
    "publish_tracked": (True, "publish /humans/bodies/tracked (std_msgs/String, comma-separated body ids)"),
    "publish_urdf": (True, "publish the latched /humans/bodies/<id>/urdf"),
    "publish_tf": (True, "publish body_<id> and the joint frames on /tf"),
    "publish_markers": (True, "publish ~/markers (skeleton LINE_LIST)"),
    "publish_mesh": (True, "also publish each posed mesh as a TRIANGLE_LIST in ~/markers (~8 ms per person)"),
    "publish_debug_image": (False, "publish ~/debug_image (rgb8 skeleton overlay)"),
    "diagnostics_period_s": (1.0, "period of /diagnostics, seconds"),
    "warn_throttle_s": (5.0, "at most one warning per bad-input kind in this many seconds"),
}
PARAMETER_NAMES = tuple(PARAMETERS)


@dataclass(frozen=True)
class NodeParams:
    """The parameters' values (see :data:`PARAMETERS`)."""

    config_file: str
    overrides: tuple[str, ...]
    backend: str
    checkpoint: str
    model_dir: str
    max_persons: int
    max_tracking_instances: int
    image_transport: str
    camera_frame: str
    publish_joint_states: bool
    publish_tracked: bool
    publish_urdf: bool
    publish_tf: bool
    publish_markers: bool
    publish_mesh: bool
    publish_debug_image: bool
    diagnostics_period_s: float
    warn_throttle_s: float

    def __post_init__(self) -> None:
        if self.image_transport not in IMAGE_TRANSPORTS:
            raise ValueError(f"parameter image_transport: expected one of {IMAGE_TRANSPORTS}, "
                             f"got {self.image_transport!r}")
        for name in ("max_persons", "max_tracking_instances"):
            if getattr(self, name) < 0:
                raise ValueError(f"parameter {name}: expected >= 0 (0 = from the config), got {getattr(self, name)}")
        if self.diagnostics_period_s <= 0 or self.warn_throttle_s < 0:
            raise ValueError("parameters diagnostics_period_s must be > 0 and warn_throttle_s >= 0")

    def core_overrides(self) -> list[str]:
        """``key=value`` overrides for :func:`load_config` (shortcuts first, then ``overrides``)."""
        out = []
        if self.backend:
            out.append(f"pipeline.backend={self.backend}")
        if self.checkpoint:
            out.append(f"pipeline.checkpoint={self.checkpoint}")
        if self.model_dir:
            out.append(f"body_model.model_dir={self.model_dir}")
        if self.max_persons:
            out.append(f"detector.max_persons={self.max_persons}")
        if self.max_tracking_instances:
            out.append(f"pipeline.max_tracking_instances={self.max_tracking_instances}")
        return out + [o for o in self.overrides if o]

    def core_config(self) -> RoboSMPLXConfig:
        """The resolved core config (raises ValueError / FileNotFoundError with the reason)."""
        return load_config(self.config_file or None, self.core_overrides())


def _descriptor(name: str, default: Any, text: str) -> ParameterDescriptor:
    ptype = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
             float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING,
             list: ParameterType.PARAMETER_STRING_ARRAY}[type(default)]
    extra = {}
    if name == "image_transport":
        extra["additional_constraints"] = "one of: " + ", ".join(IMAGE_TRANSPORTS)
    if name in ("max_persons", "max_tracking_instances"):
        extra["integer_range"] = [IntegerRange(from_value=0, to_value=1000, step=1)]
    return ParameterDescriptor(name=name, type=ptype, description=text, read_only=True, **extra)


def declare_parameters(node: Any) -> NodeParams:
    """Declare every parameter on ``node`` (an rclpy Node) and return their values."""
    values = {}
    for name, (default, text) in PARAMETERS.items():
        desc = _descriptor(name, default, text)
        if isinstance(default, list):  # an empty list cannot carry its type: declare the type
            from rclpy.parameter import Parameter
            value = node.declare_parameter(name, Parameter.Type.STRING_ARRAY, desc).value
            values[name] = tuple(value or ())
        else:
            values[name] = node.declare_parameter(name, default, desc).value
    return NodeParams(**values)
