"""Child processes of the demo: their output is shown indented with a prefix, and can be waited on."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, TextIO

__all__ = ["Child", "Console", "DemoError", "child_env"]


class DemoError(Exception):
    """A step of the demo failed; the message says what was expected and what happened."""


class Console:
    """Serialised writing of the demo's lines (child output arrives from reader threads)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def line(self, text: str = "") -> None:
        with self._lock:
            self._out.write(text + "\n")
            self._out.flush()


class Child:
    """A running child process whose stdout and stderr lines are echoed as ``    [name] line``."""

    def __init__(
        self, name: str, argv: Sequence[str], console: Console, *, env: Mapping[str, str], cwd: str
    ) -> None:
        self.name = name
        self._console = console
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            text=True,
            bufsize=1,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump, args=(stream,), daemon=True, name=f"{name} output")
            for stream in (self._proc.stdout, self._proc.stderr)
        ]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.poll()

    @property
    def lines(self) -> list[str]:
        """Every line printed so far (stdout and stderr, in arrival order)."""
        with self._changed:
            return list(self._lines)

    def send_signal(self, signum: int) -> None:
        self._proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """The exit status once the process ends (``subprocess.TimeoutExpired`` after ``timeout``)."""
        return self._proc.wait(timeout)

    def _pump(self, stream: IO[str]) -> None:
        for raw in stream:
            text = raw.rstrip("\n")
            self._console.line(f"    [{self.name}] {text}")
            with self._changed:
                self._lines.append(text)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def mark(self) -> int:
        """A position in the output: :meth:`wait_for` can look only at lines after it."""
        with self._changed:
            return len(self._lines)

    def wait_for(self, pattern: str, timeout: float, *, after: int = 0) -> re.Match[str]:
        """The first line (after position ``after``) matching the regex ``pattern``.

        Raises DemoError when the timeout expires or the process exits first.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        index = after
        with self._changed:
            while True:
                while index < len(self._lines):
                    match = regex.search(self._lines[index])
                    index += 1
                    if match:
                        return match
                if self._proc.poll() is not None and not any(r.is_alive() for r in self._readers):
                    raise DemoError(
                        f"{self.name} exited with status {self._proc.returncode} before printing "
                        f"a line matching {pattern!r}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DemoError(f"{self.name} printed no line matching {pattern!r} within {timeout:g}s")
                self._changed.wait(min(left, 0.2))

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait for the exit (SIGKILL after ``timeout``); returns the exit status."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for reader in self._readers:
            reader.join(5.0)
        return self._proc.returncode

    def kill(self) -> None:
        """Forceful cleanup after a failure (no-op when the process already ended)."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without ``DD_*`` variables (they would change the agents' config),
    plus ``extra``; output unbuffered so that lines show up as they are written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DD_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env
