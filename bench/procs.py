"""Child processes of the benchmark: spawn, talk JSON lines, read CPU and RSS, and always stop them.

Every process the benchmark starts goes through a :class:`ProcessGroup`, whose :meth:`~ProcessGroup.
stop_all` terminates (then kills) whatever is still running; the runner calls it on every exit path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "Child",
    "ChildError",
    "ProcessGroup",
    "cpu_seconds",
    "free_port",
    "rss_bytes",
    "run_timed",
]

_LINE_LIMIT = 64 * 1024 * 1024  # result lines carry every latency sample
_CLK_TCK = os.sysconf("SC_CLK_TCK")


class ChildError(RuntimeError):
    """A child process failed, answered garbage or did not answer in time; the message says which."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a whole process (all threads), from ``/proc/<pid>/stat``."""
    data = Path(f"/proc/{pid}/stat").read_text()
    fields = data[data.rindex(")") + 2 :].split()
    # Fields after "(comm)": state is field 3 of the man page, utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ChildError(f"no VmRSS in /proc/{pid}/status")


class Child:
    """One child process. Its stdout carries JSON lines (when ``json_lines``); stderr goes to a log."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log_path: Path, json_lines: bool) -> None:
        self.name = name
        self.proc = proc
        self.log_path = log_path
        self._json_lines = json_lines

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _failure(self, what: str) -> ChildError:
        tail = self.log_tail()
        status = "running" if self.running else f"exited with {self.proc.returncode}"
        return ChildError(f"{self.name} (pid {self.pid}, {status}): {what}" + (f"\n{tail}" if tail else ""))

    async def send(self, message: Mapping[str, Any]) -> None:
        stdin = self.proc.stdin
        if stdin is None or stdin.is_closing():
            raise self._failure("stdin is closed")
        stdin.write((json.dumps(message) + "\n").encode())
        try:
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise self._failure(f"cannot send {message.get('cmd')!r}: {exc}") from exc

    async def receive(self, limit_s: float) -> dict[str, Any]:
        """The next JSON line of stdout; raises ChildError on timeout, exit or a line that is not JSON."""
        if not self._json_lines or self.proc.stdout is None:
            raise self._failure("does not speak JSON lines")
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), limit_s)
        except TimeoutError:
            raise self._failure(f"no answer within {limit_s:.0f}s") from None
        if not line:
            await asyncio.wait_for(self.proc.wait(), 5)
            raise self._failure("ended its output")
        try:
            message: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            raise self._failure(f"answered a line that is not JSON: {line[:200]!r}") from None
        if message.get("event") == "error":
            raise self._failure(f"reported an error: {message.get('message')}")
        return message

    async def request(self, message: Mapping[str, Any], limit_s: float) -> dict[str, Any]:
        await self.send(message)
        return await self.receive(limit_s)

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; waits for the exit either way."""
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()


class ProcessGroup:
    """Starts children and remembers them, so that :meth:`stop_all` can end every one."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._children: list[Child] = []
        self._count = 0

    async def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        json_lines: bool = True,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        self._count += 1
        log_path = self._log_dir / f"{self._count:03d}-{name}.log"
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if json_lines else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if json_lines else log,
                stderr=log,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                limit=_LINE_LIMIT,
            )
        child = Child(name, proc, log_path, json_lines)
        self._children.append(child)
        return child

    async def spawn_python(self, name: str, module: str, args: Sequence[str], **kwargs: Any) -> Child:
        """``python -m module args...`` with this interpreter."""
        return await self.spawn(name, [sys.executable, "-m", module, *args], **kwargs)

    async def stop(self, child: Child, grace: float = 5.0) -> None:
        await child.stop(grace)
        with contextlib.suppress(ValueError):
            self._children.remove(child)

    async def stop_all(self, grace: float = 5.0) -> None:
        children, self._children = self._children, []
        await asyncio.gather(*(c.stop(grace) for c in children), return_exceptions=True)


async def run_timed(argv: Sequence[str], limit_s: float, env: Mapping[str, str] | None = None) -> float:
    """Wall time of running ``argv`` to completion (output discarded); raises ChildError on failure."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else None,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), limit_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ChildError(f"{' '.join(argv)}: did not finish within {limit_s:.0f}s") from None
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise ChildError(
            f"{' '.join(argv)}: exit status {proc.returncode}: {err.decode(errors='replace')[-500:]}"
        )
    return elapsed
