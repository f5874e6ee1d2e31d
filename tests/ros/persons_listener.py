"""Subscriber process for tests: prints each received SMPLXPersonArray as one base64 line of
its CDR bytes, exits 0 after --count messages or 1 after --timeout seconds."""

import argparse
import base64
import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.serialization import serialize_message

from robosmplx.msg import SMPLXPersonArray


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--topic", default="persons")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()
    rclpy.init()
    received: list[bytes] = []
    try:
        node = Node("persons_listener")
        node.create_subscription(SMPLXPersonArray, args.topic, lambda m: received.append(serialize_message(m)), 10)
        print("ready", flush=True)
        deadline = time.monotonic() + args.timeout
        while len(received) < args.count and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        for raw in received[: args.count]:
            print(base64.b64encode(raw).decode(), flush=True)
        return 0 if len(received) >= args.count else 1
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
