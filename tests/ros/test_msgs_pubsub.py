"""SMPLXPersonArray between two real rclpy nodes in separate processes (Fast DDS, loopback)."""

import base64
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import rclpy  # noqa: E402  (installed by `make setup`)
from rclpy.node import Node  # noqa: E402
from rclpy.serialization import deserialize_message  # noqa: E402

from robosmplx.msg import SMPLXPerson, SMPLXPersonArray  # noqa: E402
from robosmplx_core.body_model import BodyModel  # noqa: E402
from robosmplx_core.types import PartConfidence, PersonEstimate, SMPLXParams  # noqa: E402
from robosmplx_ros.convert import person_from_msg, persons_to_msg  # noqa: E402

LISTENER = Path(__file__).with_name("persons_listener.py")


def _estimate(model: BodyModel, track_id: int, seed: int) -> PersonEstimate:
    g = torch.Generator().manual_seed(seed)
    params = SMPLXParams.from_axis_angle(
        global_orient=torch.tensor([[np.pi, 0.0, 0.0]]),
        body_pose=0.3 * torch.randn(1, 21, 3, generator=g),
        left_hand_pose=0.2 * torch.randn(1, 15, 3, generator=g),
        right_hand_pose=0.2 * torch.randn(1, 15, 3, generator=g),
        jaw_pose=torch.tensor([[0.2, 0.0, 0.0]]),
        betas=torch.randn(1, 10, generator=g), expression=torch.randn(1, 10, generator=g),
        transl=torch.tensor([[0.1 * track_id, 0.2, 3.0]]),
    )
    joints = model(params).joints[0].detach().numpy()
    j2d = 500.0 * joints[:, :2] / joints[:, 2:] + 320.0
    return PersonEstimate(track_id=track_id, box_xyxy=np.array([10, 20, 200, 400.5]), score=0.9,
                          params=params, joints3d=joints, joints2d=j2d,
                          confidence=PartConfidence(body=1.0, left_hand=0.5, right_hand=0.0, face=0.75))


def test_person_array_crosses_processes() -> None:
    model = BodyModel.load()
    persons = [_estimate(model, 3, 0), _estimate(model, 7, 1)]
    sent = persons_to_msg(persons, stamp_s=1700000000.125, frame_id="camera_optical")
    listener = subprocess.Popen([sys.executable, str(LISTENER), "--count", "2", "--timeout", "30"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rclpy.init()
    try:
        node = Node("persons_talker")
        pub = node.create_publisher(SMPLXPersonArray, "persons", 10)
        deadline = time.monotonic() + 30
        while listener.poll() is None and time.monotonic() < deadline:
            pub.publish(sent)
            rclpy.spin_once(node, timeout_sec=0.1)
        out, err = listener.communicate(timeout=10)
    finally:
        if listener.poll() is None:
            listener.kill()
        rclpy.try_shutdown()
    assert listener.returncode == 0, f"listener received too few messages:\n{err}"
    lines = [ln for ln in out.splitlines() if ln and ln != "ready"]
    assert len(lines) == 2
    got = deserialize_message(base64.b64decode(lines[0]), SMPLXPersonArray)
    assert got == sent  # every field equal after the DDS round trip (CDR padding bytes may differ)
    assert got.header.frame_id == "camera_optical"
    assert (got.header.stamp.sec, got.header.stamp.nanosec) == (1700000000, 125000000)
    assert [p.track_id for p in got.persons] == [3, 7]
    for want, msg in zip(persons, got.persons):
        back = person_from_msg(msg)
        for name in ("body_pose", "left_hand_pose", "global_orient", "jaw_pose"):
            np.testing.assert_allclose(getattr(back.params, name), getattr(want.params, name), atol=1e-5)
        np.testing.assert_allclose(back.params.betas, want.params.betas, atol=1e-6)
        np.testing.assert_allclose(back.joints3d, want.joints3d, atol=1e-6)
        np.testing.assert_allclose(back.joints2d, want.joints2d, atol=1e-3)
        assert back.confidence == want.confidence
        assert len(msg.joints3d) == 127 and len(msg.joints2d) == 254


def test_message_fields_are_documented() -> None:
    """Every field of the .msg files carries a comment (unit, frame, when empty)."""
    for name in ("SMPLXPerson.msg", "SMPLXPersonArray.msg"):
        lines = (Path(__file__).resolve().parents[2] / "msg" / name).read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() and not line.startswith("#"):
                j = i - 1
                while j >= 0 and lines[j].strip() and not lines[j].startswith("#"):
                    j -= 1  # fields grouped under one comment
                assert j >= 0 and lines[j].startswith("#"), f"{name}: field {line!r} has no comment above it"
    assert len(SMPLXPerson().body_pose) == 63 and len(SMPLXPerson().left_hand_pose) == 45
