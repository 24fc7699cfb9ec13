"""Local servers the tests start: free ports and real rasa-sdk action servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ActionServer:
    """``python -m rasa_sdk --actions <module>`` run from ``folder`` on a port of its own,
    which it keeps when it is killed and started again."""

    def __init__(self, folder: Path, module: str, log_path: Path) -> None:
        self.folder, self.module, self.log_path = folder, module, log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def ensure_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.start()

    def start(self) -> None:
        """Start it and wait until it answers its health check."""
        command = [sys.executable, "-m", "rasa_sdk", "--actions", self.module]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)],
                cwd=self.folder,
                env={**os.environ, "SANIC_HOST": "127.0.0.1"},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so its workers stop with it
            )
        deadline = time.monotonic() + 60
        while not answers(self.port, "/health"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"rasa-sdk server did not start:\n{self.log_path.read_text()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would end it."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


def answers(port: int, path: str = "/") -> bool:
    """Whether a server on the loopback ``port`` answers ``GET path`` with 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False
