"""rosbag2 side of ``robosmplx-bag``: the typestore, storage detection, topic selection and a
writer that copies input connections and adds the node's outputs (:mod:`robosmplx_ros.bag`).

Bags are read and written with ``rosbags`` (no rosbag2_py wheel exists); message bytes are CDR
either way, so rclpy's ``deserialize_message`` / ``serialize_message`` work on them directly.
Topic types and the image topic's sibling camera_info come from
:mod:`robosmplx_core.io.bag_frames` (which ``robosmplx pseudolabel`` reads bags with); images
are decoded by the node's conversion (:mod:`robosmplx_ros.convert`, i.e.
:mod:`robosmplx_core.io.ros_images`). The typestore is ROS 2 Kilted's plus ``robosmplx/msg/*``
registered from the installed ``.msg`` files, so output connections carry the message
definition and the RIHS01 hash that rclpy publishers report.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml
from rclpy.qos import QoSProfile
from rosbags.interfaces import (Connection, MessageDefinitionFormat, Qos, QosDurability, QosHistory,
                                QosLiveliness, QosReliability, QosTime)
from rosbags.rosbag2 import Reader, Writer
from rosbags.rosbag2.enums import StoragePlugin
from rosbags.rosbag2.errors import ReaderError
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from robosmplx_core.io.bag_frames import CAMERA_INFO_TYPE, IMAGE_TYPES, sibling_camera_info_topic

STORAGES = ("mcap", "sqlite3")
_SUFFIX_STORAGE = {".mcap": "mcap", ".db3": "sqlite3"}


class BagError(ValueError):
    """An unusable input bag or option; the message says what was found and how to fix it."""


# ---------------------------------------------------------------------------------------------
# Types

def robosmplx_msg_dir() -> Path:
    """The folder with ``SMPLXPerson.msg`` / ``SMPLXPersonArray.msg`` that the importable
    ``robosmplx.msg`` was generated from (``<prefix>/share/robosmplx/msg``), else the source
    tree's ``msg/``."""
    import robosmplx

    prefixes = [Path(p).resolve().parents[3] for p in robosmplx.__path__]  # <prefix>/lib/pythonX.Y/site-packages
    prefixes += [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    candidates = [p / "share" / "robosmplx" / "msg" for p in prefixes] + [Path(__file__).resolve().parents[1] / "msg"]
    for folder in candidates:
        if (folder / "SMPLXPersonArray.msg").is_file():
            return folder
    raise FileNotFoundError("robosmplx .msg files not found in " + ", ".join(map(str, candidates))
                            + "; build the messages (tools/build_msgs.sh) or run from the source tree")


def make_typestore() -> Typestore:
    """ROS 2 Kilted types plus ``robosmplx/msg/*``."""
    store = get_typestore(Stores.ROS2_KILTED)
    types: dict[str, Any] = {}
    for path in sorted(robosmplx_msg_dir().glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"robosmplx/msg/{path.stem}"))
    store.register(types)
    return store


def msgtype_name(msg_type: type) -> str:
    """rclpy message class -> ``pkg/msg/Name`` (e.g. ``sensor_msgs/msg/Image``)."""
    return f"{msg_type.__module__.split('.')[0]}/msg/{msg_type.__name__}"


def qos_to_rosbags(qos: QoSProfile) -> Qos:
    """An rclpy publisher QoS as rosbag2 metadata's ``offered_qos_profiles`` entry (durations
    0 = the RMW default, i.e. infinite)."""
    zero = QosTime(0, 0)
    return Qos(history=QosHistory[qos.history.name], depth=int(qos.depth),
               reliability=QosReliability[qos.reliability.name], durability=QosDurability[qos.durability.name],
               deadline=zero, lifespan=zero, liveliness=QosLiveliness[qos.liveliness.name],
               liveliness_lease_duration=zero, avoid_ros_namespace_conventions=False)


# ---------------------------------------------------------------------------------------------
# Input

def input_storage(path: Path) -> str:
    """The storage id of the bag at ``path`` (a rosbag2 folder, a ``.mcap`` or a ``.db3``)."""
    if not path.exists():
        raise BagError(f"input bag {path} does not exist")
    if path.is_dir():
        meta = path / "metadata.yaml"
        if not meta.is_file():
            found = ", ".join(sorted(p.name for p in path.iterdir())[:10]) or "nothing"
            raise BagError(f"{path} is not a rosbag2 bag: no metadata.yaml in it (found: {found})")
        try:
            info = yaml.safe_load(meta.read_text())["rosbag2_bagfile_information"]
            storage = str(info["storage_identifier"])
        except (yaml.YAMLError, KeyError, TypeError) as exc:
            raise BagError(f"{meta}: not rosbag2 metadata ({type(exc).__name__}: {exc})") from None
    elif path.suffix in _SUFFIX_STORAGE:
        storage = _SUFFIX_STORAGE[path.suffix]
    else:
        hint = " (a ROS 1 bag: convert it with rosbags-convert)" if path.suffix == ".bag" else ""
        raise BagError(f"{path}: file type {path.suffix or '(no suffix)'!r} is not a rosbag2 bag{hint}; "
                       "robosmplx-bag reads a folder with metadata.yaml, a .mcap or a .db3 file")
    if storage not in STORAGES:
        raise BagError(f"{path}: storage {storage!r} is not supported; robosmplx-bag reads rosbag2 bags "
                       f"stored as {' or '.join(STORAGES)} (a folder with metadata.yaml, a .mcap or a .db3 file)")
    return storage


def open_reader(path: Path) -> Reader:
    """An open :class:`Reader` (errors become :class:`BagError`)."""
    input_storage(path)
    try:
        reader = Reader(path)
        reader.open()
    except (ReaderError, FileNotFoundError) as exc:
        raise BagError(f"cannot read bag {path}: {exc}") from None
    return reader


def describe_topics(reader: Reader) -> str:
    """``/a (pkg/msg/A, 12 msgs), ...`` for error messages."""
    topics = reader.topics
    if not topics:
        return "none (the bag is empty)"
    return ", ".join(f"{name} ({info.msgtype}, {info.msgcount} msgs)" for name, info in sorted(topics.items()))


def select_image_topic(reader: Reader, wanted: Optional[str]) -> tuple[str, str]:
    """(topic, msgtype) of the image topic: ``wanted`` if given, else the only one in the bag."""
    topics = reader.topics
    images = {name: info.msgtype for name, info in topics.items() if info.msgtype in IMAGE_TYPES}
    if wanted is not None:
        if wanted not in images:
            what = f"has type {topics[wanted].msgtype}" if wanted in topics else "is not in the bag"
            raise BagError(f"--image-topic {wanted} {what}; image topics found: "
                           f"{', '.join(sorted(images)) or 'none'}; all topics: {describe_topics(reader)}")
        return wanted, images[wanted]
    if not images:
        raise BagError(f"no image topic ({' or '.join(IMAGE_TYPES)}) in {reader.path}; "
                       f"topics found: {describe_topics(reader)}")
    if len(images) > 1:
        raise BagError(f"several image topics in {reader.path}: "
                       f"{', '.join(f'{n} ({t})' for n, t in sorted(images.items()))}; choose one with --image-topic")
    return next(iter(images.items()))


def select_camera_info_topic(reader: Reader, wanted: Optional[str], image_topic: str) -> Optional[str]:
    """The camera_info topic: ``wanted``; else the only CameraInfo topic; else the one beside
    the image topic (``/cam/image_raw[/compressed]`` -> ``/cam/camera_info``); else None."""
    infos = sorted(name for name, info in reader.topics.items() if info.msgtype == CAMERA_INFO_TYPE)
    if wanted is not None:
        if wanted not in infos:
            raise BagError(f"--camera-info-topic {wanted} is not a {CAMERA_INFO_TYPE} topic of the bag; "
                           f"camera_info topics found: {', '.join(infos) or 'none'}")
        return wanted
    if len(infos) <= 1:
        return infos[0] if infos else None
    sibling = sibling_camera_info_topic(image_topic)
    if sibling in infos:
        return sibling
    raise BagError(f"several camera_info topics ({', '.join(infos)}) and none is {sibling}; "
                   "choose one with --camera-info-topic")


# ---------------------------------------------------------------------------------------------
# Output

def open_writer(path: Path, storage: str) -> Writer:
    """A rosbag2 (version 9) writer at ``path``, which must not exist (use it as a context
    manager: that opens it, and closes or aborts it)."""
    if storage not in STORAGES:
        raise BagError(f"--storage {storage!r}: expected one of {', '.join(STORAGES)}")
    if path.exists():
        raise BagError(f"output {path} exists already; choose a new path (rosbag2 bags are never overwritten)")
    return Writer(path, version=Writer.VERSION_LATEST, storage_plugin=StoragePlugin[storage.upper()])


class BagOutput:
    """Connections of the output bag: every input connection copied as-is, plus one per output
    topic (sharing the input's connection when the input already has that topic and type)."""

    def __init__(self, writer: Writer, typestore: Typestore) -> None:
        self.writer, self.typestore = writer, typestore
        self._copies: dict[int, Connection] = {}  # input connection id -> output connection
        self._topics: dict[str, Connection] = {}  # topic -> first output connection
        self.input_topics: set[str] = set()

    def copy_connections(self, connections: Sequence[Connection]) -> None:
        """Add every input connection (definition, hash and offered QoS kept)."""
        by_key: dict[tuple, Connection] = {}
        for conn in connections:
            key = (conn.topic, conn.msgtype, conn.ext.serialization_format, tuple(conn.ext.offered_qos_profiles))
            if key not in by_key:
                msgdef = conn.msgdef.data if conn.msgdef.format != MessageDefinitionFormat.NONE else None
                rihs01 = conn.digest if str(conn.digest).startswith("RIHS01_") else None
                if (msgdef is None or rihs01 is None) and conn.msgtype not in self.typestore.fielddefs:
                    raise BagError(f"cannot copy topic {conn.topic}: the input bag has no message definition or "
                                   f"type hash for {conn.msgtype} and the type is unknown here")
                if msgdef is None or rihs01 is None:
                    msgdef, rihs01 = None, None  # both from the typestore
                by_key[key] = self.writer.add_connection(
                    conn.topic, conn.msgtype, typestore=self.typestore, msgdef=msgdef, rihs01=rihs01,
                    serialization_format=conn.ext.serialization_format,
                    offered_qos_profiles=conn.ext.offered_qos_profiles)
                self._topics.setdefault(conn.topic, by_key[key])
                self.input_topics.add(conn.topic)
            self._copies[conn.id] = by_key[key]

    def copy(self, conn: Connection, timestamp_ns: int, raw: bytes | memoryview) -> None:
        self.writer.write(self._copies[conn.id], timestamp_ns, raw)

    def connection(self, topic: str, msg_type: type, qos: QoSProfile) -> Connection:
        """The output connection of ``topic`` (added on first use)."""
        conn = self._topics.get(topic)
        msgtype = msgtype_name(msg_type)
        if conn is None:
            conn = self._topics[topic] = self.writer.add_connection(
                topic, msgtype, typestore=self.typestore, offered_qos_profiles=[qos_to_rosbags(qos)])
        elif conn.msgtype != msgtype:
            raise BagError(f"the input bag has topic {topic} as {conn.msgtype}, but the node writes {msgtype} "
                           "there; pick another --node-name or drop the topic from the input")
        return conn
