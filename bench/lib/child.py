"""Bench processes that talk JSON lines: ``Child`` on the parent's side, ``emit`` on the child's.

bench.ws_fanout runs its WebSocket clients (``bench.ws_client``) and its load
(``bench.ws_load``) in processes of their own, so that they do not share a
core's Python with the bench; each gets its settings as the first line on
stdin, then commands, and answers one JSON line per event on stdout.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.lib import procs
from bench.lib.profile import cleared_environ


def emit(message: dict[str, Any]) -> None:
    """Answer the parent: one JSON line on stdout."""
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Child:
    """``python -m <module>`` in its own process group, sent ``settings`` first, its stderr in ``log_path``."""

    def __init__(self, name: str, module: str, settings: dict[str, Any], log_path: Path) -> None:
        self.name = name
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.process = procs.start([sys.executable, "-m", module], env=cleared_environ(), log=log_path, pipes=True)
        self.log_path = log_path
        threading.Thread(target=self._read, name=f"{name}-stdout", daemon=True).start()
        self.send(settings)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message, separators=(",", ":")) + "\n")
        self.process.stdin.flush()

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        """The next message of this ``event`` (others are passed over); fails when the child exits or is late."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{self.name}: no {event!r} within {timeout:.0f}s; log:\n{self.log_tail()}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.process.wait(timeout=5)
                raise RuntimeError(
                    f"{self.name} exited ({self.process.returncode}) before {event!r}; log:\n{self.log_tail()}"
                )
            message = json.loads(line)
            if message.get("event") == event:
                return message

    def log_tail(self, lines: int = 20) -> str:
        return procs.tail(self.log_path, lines)

    def stop(self, timeout: float = 3) -> None:
        """Close its stdin (it exits on its own), then end its process group if it does not."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            procs.stop_group(self.process, timeout=5, kill_timeout=5)
        if self.process.stdout is not None:
            try:
                self.process.stdout.close()
            except (OSError, ValueError):
                pass
