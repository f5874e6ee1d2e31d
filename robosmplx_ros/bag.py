"""``robosmplx-bag``: run the node's processing on every image of a rosbag2 bag, offline.

    robosmplx-bag IN OUT [--image-topic T] [--camera-info-topic T] [--storage mcap|sqlite3]
                  [--config FILE] [--node-name robosmplx] [--quiet] [key=value ...]
    python -m robosmplx_ros.bag in_bag out_bag tracker.min_hits=1 publish_mesh=false

IN is a rosbag2 bag (a folder with metadata.yaml, or a single .mcap / .db3 file). OUT gets every
input message unchanged plus what the live node publishes for each image (same topic names as
the node with its default name: ``/robosmplx/persons``, ``/humans/bodies/tracked``,
``/humans/bodies/<id>/joint_states`` and ``/urdf``, ``/tf``, ``/robosmplx/markers``, optionally
``/robosmplx/debug_image``; not ``/diagnostics``). Every output carries the source image's
header stamp, and is written at that time in the bag (the image's bag time if the stamp is 0).

The processing is the node's own (:class:`robosmplx_ros.node.FrameProcessor`): the same
estimator config, message conversion and output messages, the latest camera_info before each
image, stale or bad images skipped and counted. Unlike the live node no image is dropped.

Options: ``key=value`` is a node parameter when ``key`` is one (``publish_mesh=false``,
``camera_frame=cam``, ``max_persons=2``, see ``robosmplx_ros.params``), else a core config
override (``tracker.min_hits=1``), applied after ``--config``. ``--storage`` defaults to the
input's. Exit codes: 0 done, 1 some images failed to process (counted, see the summary), 2
unusable input or options (the message says what was found).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # entry point only (see robosmplx_core.cli)

import argparse  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Optional, Sequence  # noqa: E402

from rclpy.expand_topic_name import expand_topic_name  # noqa: E402
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from rosbags.rosbag2.errors import ReaderError, WriterError  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402
from tqdm import tqdm  # noqa: E402

from robosmplx_core.config import config_to_yaml  # noqa: E402
from robosmplx_core.threads import use_pipeline_threads  # noqa: E402
from robosmplx_ros.bag_io import (STORAGES, BagError, BagOutput, input_storage, make_typestore,  # noqa: E402
                                  open_reader, open_writer, select_camera_info_topic, select_image_topic)
from robosmplx_ros.convert import BadInputError, stamp_ns  # noqa: E402
from robosmplx_ros.node import FrameProcessor  # noqa: E402
from robosmplx_ros.outputs import FrameOutputs, missing_output_hints  # noqa: E402
from robosmplx_ros.params import PARAMETERS, NodeParams  # noqa: E402

# node parameters that key=value cannot set: --config / dotted keys / the topic's type decide them
_NOT_SETTABLE = ("config_file", "overrides", "image_transport")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


@dataclass
class BagSummary:
    """What :func:`process_bag` did."""

    image_topic: str
    camera_info_topic: Optional[str]
    storage: str
    images: int = 0
    processed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # bad-input kind -> count (node counter names)
    processing_errors: int = 0
    copied: int = 0  # input messages copied
    written: int = 0  # output messages written
    track_ids: set[int] = field(default_factory=set)
    processing_s: float = 0.0  # estimator, output messages and writing them, all images

    @property
    def fps(self) -> float:
        return self.processed / self.processing_s if self.processing_s > 0 else 0.0


def node_params(config: Optional[Path], items: Sequence[str]) -> NodeParams:
    """The node's parameters from ``--config`` and ``key=value`` items (see module docstring)."""
    values = {name: (tuple(default) if isinstance(default, list) else default)
              for name, (default, _) in PARAMETERS.items()}
    values["config_file"] = str(config) if config is not None else ""
    overrides = []
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise BagError(f"option {item!r}: expected key=value, e.g. publish_mesh=false or tracker.min_hits=1")
        if "." in key:
            overrides.append(item)
        elif key in PARAMETERS and key not in _NOT_SETTABLE:
            values[key] = _parse_value(key, text, PARAMETERS[key][0])
        else:
            settable = [n for n in PARAMETERS if n not in _NOT_SETTABLE]
            raise BagError(f"unknown option {key!r}: expected a node parameter ({', '.join(settable)}) or a "
                           "core config key such as tracker.min_hits (use --config for a config file)")
    values["overrides"] = tuple(overrides)
    return NodeParams(**values)


def _parse_value(key: str, text: str, default: object) -> object:
    if isinstance(default, bool):
        if text.lower() not in _TRUE + _FALSE:
            raise BagError(f"{key}={text}: expected true or false")
        return text.lower() in _TRUE
    try:
        return type(default)(text)
    except ValueError:
        raise BagError(f"{key}={text}: expected a {type(default).__name__}") from None


def process_bag(in_path: Path, out_path: Path, params: NodeParams, *, image_topic: Optional[str] = None,
                camera_info_topic: Optional[str] = None, storage: Optional[str] = None,
                node_name: str = "robosmplx", namespace: str = "/", progress: bool = True,
                log: Callable[[str], None] = tqdm.write) -> BagSummary:
    """Copy ``in_path`` to ``out_path`` adding the node's outputs for every image (see module
    docstring). Raises :class:`BagError` for unusable input or options; OUT is removed again
    when anything fails."""
    in_path, out_path = Path(in_path), Path(out_path)
    storage = storage or input_storage(in_path)
    if storage not in STORAGES:
        raise BagError(f"--storage {storage!r}: expected one of {', '.join(STORAGES)}")
    if out_path.exists():
        raise BagError(f"output {out_path} exists already; choose a new path (bags are never overwritten)")
    reader = open_reader(in_path)
    try:
        topic, msgtype = select_image_topic(reader, image_topic)
        info_topic = select_camera_info_topic(reader, camera_info_topic, topic)
        image_cls = CompressedImage if msgtype == "sensor_msgs/msg/CompressedImage" else Image
        params = replace(params, image_transport="compressed" if image_cls is CompressedImage else "raw")
        typestore = make_typestore()
        processor = FrameProcessor(params)  # after the checks above: building the estimator takes seconds
        for hint in missing_output_hints(params):
            log(f"robosmplx-bag: {hint}")
        summary = BagSummary(image_topic=topic, camera_info_topic=info_topic, storage=storage)
        run = _Run(processor, summary, lambda name: expand_topic_name(name, node_name, namespace), log)
        with open_writer(out_path, storage) as writer:
            try:
                writer.set_custom_data("robosmplx.config", config_to_yaml(params.core_config()))
                writer.set_custom_data("robosmplx.image_topic", topic)
                run.out = BagOutput(writer, typestore)
                run.out.copy_connections(reader.connections)
                run.warn_shared_topics()
                with tqdm(total=reader.topics[topic].msgcount, unit="img", desc="robosmplx-bag",
                          disable=not progress, file=sys.stderr, dynamic_ncols=True) as bar:
                    for conn, t_ns, raw in reader.messages():
                        run.out.copy(conn, t_ns, raw)
                        summary.copied += 1
                        if conn.topic == info_topic:
                            run.camera_info(deserialize_message(raw, CameraInfo))
                        elif conn.topic == topic:
                            run.image(deserialize_message(raw, image_cls), t_ns)
                            bar.update(1)
            except BaseException:
                writer.abort()
                shutil.rmtree(out_path, ignore_errors=True)  # it did not exist before
                raise
    finally:
        reader.close()
    return summary


class _Run:
    """Per-message work of :func:`process_bag`: the node's intake and processing, each
    image's outputs written at the source stamp, bad input skipped and counted."""

    def __init__(self, processor: FrameProcessor, summary: BagSummary, resolve: Callable[[str], str],
                 log: Callable[[str], None]) -> None:
        self.processor, self.summary, self.resolve, self.log = processor, summary, resolve, log
        self.out: Optional[BagOutput] = None

    def warn_shared_topics(self) -> None:
        fixed = {self.resolve(t) for t, _, _ in self.processor.outputs.fixed_topics()}
        for name in sorted((self.out.input_topics & fixed) - {"/tf"}):
            self.log(f"robosmplx-bag: the input already has {name}: the outputs are added to it")

    def camera_info(self, msg: CameraInfo) -> None:
        try:
            self.processor.camera_info(msg)
        except BadInputError as exc:
            self._skip(exc)

    def image(self, msg: Image | CompressedImage, bag_t_ns: int) -> None:
        s = self.summary
        s.images += 1
        try:
            frame, header = self.processor.intake(msg)
        except BadInputError as exc:
            self._skip(exc)
            return
        t0 = time.perf_counter()
        try:
            self._write(self.processor.process(frame, header), stamp_ns(header.stamp) or bag_t_ns)
        except BagError:
            raise
        except Exception as exc:  # as the node: count, say so, go on with the next image
            s.processing_errors += 1
            if s.processing_errors == 1:
                self.log(f"robosmplx-bag: processing image {s.images - 1} failed: {type(exc).__name__}: {exc}")
            return
        s.processing_s += time.perf_counter() - t0
        s.processed += 1

    def _write(self, outputs: FrameOutputs, t_ns: int) -> None:
        """Every output message of one image, at ``t_ns`` (the source image's stamp)."""
        self.summary.track_ids.update(p.track_id for p in outputs.persons)
        for o in outputs.messages:
            conn = self.out.connection(self.resolve(o.topic), o.msg_type, o.qos)
            self.out.writer.write(conn, t_ns, o.msg if isinstance(o.msg, bytes) else serialize_message(o.msg))
            self.summary.written += 1

    def _skip(self, exc: BadInputError) -> None:
        n = self.summary.skipped.get(exc.kind, 0)
        self.summary.skipped[exc.kind] = n + 1
        if n == 0:
            self.log(f"robosmplx-bag: skipped bad input ({exc.kind}): {exc}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="robosmplx-bag", description="Run the robosmplx node's processing on every image of a rosbag2 bag "
        "(no frame dropped); OUT = every input message + the node's outputs, stamped with the source image's stamp.",
        epilog="Exit codes: 0 done, 1 some images failed to process, 2 unusable input or options.")
    p.add_argument("input", type=Path, metavar="IN", help="rosbag2 bag: folder with metadata.yaml, .mcap or .db3")
    p.add_argument("output", type=Path, metavar="OUT", help="output bag folder (must not exist)")
    p.add_argument("--image-topic", help="sensor_msgs/Image or CompressedImage topic (default: the only one)")
    p.add_argument("--camera-info-topic", help="sensor_msgs/CameraInfo topic (default: the only one, or the "
                                               "image topic's sibling camera_info)")
    p.add_argument("--storage", choices=STORAGES, help="output storage (default: the input's)")
    p.add_argument("--config", type=Path, default=None, help="robosmplx core config YAML (see config/)")
    p.add_argument("--node-name", default="robosmplx", help="node name for the ~/ topics (default robosmplx)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("options", nargs="*", metavar="key=value",
                   help="node parameters (publish_mesh=false) or core config overrides (tracker.min_hits=1)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console script ``robosmplx-bag``."""
    args = build_parser().parse_intermixed_args(argv)
    use_pipeline_threads()
    try:
        params = node_params(args.config, args.options)
        params.core_config()  # a bad config file or key fails now, before the bag is read
        t0 = time.perf_counter()
        s = process_bag(args.input, args.output, params, image_topic=args.image_topic,
                        camera_info_topic=args.camera_info_topic, storage=args.storage,
                        node_name=args.node_name, progress=not args.quiet)
    except (BagError, ValueError, FileNotFoundError, ReaderError, WriterError) as exc:
        print(f"robosmplx-bag: {exc}", file=sys.stderr)
        return 2
    skipped = ", ".join(f"{n} {k}" for k, n in sorted(s.skipped.items())) or "none"
    print(f"robosmplx-bag: {s.processed}/{s.images} images of {s.image_topic} processed "
          f"({s.fps:.1f} fps; skipped: {skipped}; {s.processing_errors} failed), {len(s.track_ids)} tracks, "
          f"{s.copied} messages copied + {s.written} written -> {args.output} ({s.storage}, "
          f"{time.perf_counter() - t0:.1f} s)")
    return 1 if s.processing_errors else 0


if __name__ == "__main__":
    sys.exit(main())
