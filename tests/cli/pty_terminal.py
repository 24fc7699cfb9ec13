"""A command of ours on a pseudo-terminal, for the tests of what needs a terminal (line
editing, history, Ctrl-C and Ctrl-D): ``pty.fork`` makes the pseudo-terminal the child's
controlling terminal, so Ctrl-C typed into it sends SIGINT, as a real terminal does."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import sys
import time
from pathlib import Path

PROMPT = "Your input -> "  # of tandem shell and tandem interactive
UP = "\x1b[A"
CTRL_C = "\x03"
CTRL_D = "\x04"
CTRL_U = "\x15"  # erases the line typed so far


class Terminal:
    """A child process on a pseudo-terminal: type into it, wait for what it prints."""

    def __init__(self, project: Path, *args: str) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes the shell
            os.chdir(project)
            os.environ.update(TERM="xterm", INPUTRC=os.devnull)
            os.execv(sys.executable, [sys.executable, "-m", "tandem.cli.main", *args])
        self.pid, self.fd = pid, fd
        self.output = ""

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def expect(self, pattern: str, timeout: float = 10.0) -> str:
        """Everything printed since the last match, up to and including ``pattern``."""
        deadline = time.monotonic() + timeout
        while (found := re.search(pattern, self.output)) is None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise AssertionError(f"no {pattern!r} in {self.output!r}")
            try:
                self.output += os.read(self.fd, 65536).decode(errors="replace")
            except OSError:  # the child closed the terminal
                raise AssertionError(f"no {pattern!r} in {self.output!r}") from None
        seen, self.output = self.output[: found.end()], self.output[found.end() :]
        return seen.replace("\r\n", "\n")

    def say(self, keys: str, until: str = re.escape(PROMPT)) -> str:
        """Type a line and return what the command printed until ``until`` (by default
        until it asks for a message again)."""
        self.type(keys + "\r")
        return self.expect(until)

    def exit_code(self, timeout: float = 5.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):  # drain, so the child never blocks on output
                if select.select([self.fd], [], [], 0.05)[0]:
                    self.output += os.read(self.fd, 65536).decode(errors="replace")
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        raise AssertionError(f"the shell did not exit within {timeout} s: {self.output!r}")

    def close(self) -> None:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(self.pid, os.WNOHANG)[0] == 0:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        os.close(self.fd)
