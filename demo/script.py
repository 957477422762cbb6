"""The demo's steps: a core agent, a remote agent streaming its config, a live change, a clean stop.

Everything happens in a fresh temporary directory with free loopback ports, so the demo never
touches a real agent's files or ports. Exit status 0 when every step worked, 1 otherwise (with the
failed step and its cause on the last lines), 130 when interrupted.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from demo.children import Child, Console, DemoError, child_env

__all__ = ["Demo", "main"]

STEP_TIMEOUT = 20.0
"""Longest wait of any step (each normally takes well under a second)."""
REMOTE_NAME = "demo-remote-agent"


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Demo:
    """Runs the steps in order; :meth:`cleanup` stops whatever is still running."""

    STEPS = 6

    def __init__(self, workdir: Path, console: Console) -> None:
        self.workdir = workdir
        self.state_dir = workdir / "state"
        self.console = console
        self.port = free_port()
        self.env = child_env({"DD_CMD_PORT": str(self.port), "DD_TELEMETRY_PORT": str(free_port())})
        self.core: Child | None = None
        self.remote: Child | None = None
        self._step = 0
        self.step_name = ""

    # --- output ----------------------------------------------------------------------------------

    def step(self, title: str) -> None:
        self._step += 1
        self.step_name = title
        self.console.line()
        self.console.line(f"==> [{self._step}/{self.STEPS}] {title}")

    def say(self, text: str) -> None:
        self.console.line(f"    {text}")

    # --- commands --------------------------------------------------------------------------------

    def _python(self, module: str, *args: str) -> list[str]:
        return [sys.executable, "-m", module, *args]

    def core_cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``core-agent ARGS --state-dir ...`` and show the command and its output."""
        argv = self._python("core_agent", *args, "--state-dir", str(self.state_dir))
        self.say(f"$ core-agent {' '.join(args)}")
        done = subprocess.run(
            argv,
            check=False,
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
        )
        for line in (done.stdout + done.stderr).splitlines():
            self.say(f"  {line}")
        if check and done.returncode != 0:
            raise DemoError(f"'core-agent {' '.join(args)}' exited with status {done.returncode}")
        return done

    # --- steps -----------------------------------------------------------------------------------

    def start_core(self) -> None:
        self.step(f"Start the core agent (embedded default config, IPC port {self.port})")
        self.say(f"working directory: {self.workdir}")
        self.say(f"$ core-agent run --state-dir {self.state_dir}    (DD_CMD_PORT={self.port})")
        self.core = Child(
            "core-agent",
            self._python("core_agent", "run", "--state-dir", str(self.state_dir)),
            self.console,
            env=self.env,
            cwd=str(self.workdir),
        )
        self._wait_until_serving(self.core)
        self.say(f"the core agent serves on localhost:{self.port}")

    def _wait_until_serving(self, core: Child) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT
        argv = self._python("core_agent", "status", "--state-dir", str(self.state_dir), "--timeout", "1")
        while True:
            if core.returncode is not None:
                raise DemoError(f"the core agent exited with status {core.returncode} while starting")
            probe = subprocess.run(
                argv, check=False, env=self.env, cwd=self.workdir, capture_output=True, text=True, timeout=10
            )
            if probe.returncode == 0:
                return
            if time.monotonic() > deadline:
                reason = (probe.stderr or probe.stdout).strip().splitlines()
                last = reason[-1] if reason else f"status {probe.returncode}"
                raise DemoError(f"the core agent did not serve within {STEP_TIMEOUT:g}s: {last}")
            time.sleep(0.2)

    def start_remote(self) -> None:
        self.step("Start the sample remote agent: it registers and streams the core agent's config")
        args = [
            "--state-dir",
            str(self.state_dir),
            "--name",
            REMOTE_NAME,
            "--wait-timeout",
            str(STEP_TIMEOUT),
        ]
        self.say(f"$ sample-remote-agent {' '.join(args)}")
        self.remote = Child(
            "remote-agent",
            self._python("sample_remote_agent", *args),
            self.console,
            env=self.env,
            cwd=str(self.workdir),
        )
        ready = self.remote.wait_for(r"^ready: (\d+) settings", STEP_TIMEOUT)
        self.say(f"the remote agent received a snapshot of {ready.group(1)} settings")

    def show_received(self) -> None:
        assert self.remote is not None
        self.step("Compare: the core agent's log_level and the one the remote agent applied")
        self.core_cli("config", "get", "log_level", "--source")
        level = self.remote.wait_for(r"effective log_level: (\S+) \(source: ([^)]+)\)", STEP_TIMEOUT)
        self.say(f"the remote agent runs with log_level {level.group(1)} (source: {level.group(2)})")
        self.core_cli("status")

    def change_level(self) -> int:
        assert self.remote is not None
        self.step("Change log_level to debug at runtime in the core agent")
        mark = self.remote.mark()
        self.core_cli("config", "set", "log_level", "debug")
        return mark

    def see_change(self, mark: int) -> None:
        assert self.remote is not None
        self.step("The remote agent picks the change up live")
        self.remote.wait_for(
            r"^change: log_level = debug \(source: agent-runtime\)", STEP_TIMEOUT, after=mark
        )
        self.say("it printed the change it received")
        self.remote.wait_for(r"\| DEBUG \|", STEP_TIMEOUT, after=mark)
        self.say("and it now logs at debug level")

    def stop_all(self) -> None:
        self.step("Stop both agents (SIGTERM)")
        for child in (self.remote, self.core):
            if child is None:
                continue
            status = child.stop()
            if status != 0:
                raise DemoError(f"{child.name} exited with status {status} after SIGTERM, expected 0")
            self.say(f"{child.name} stopped cleanly (exit status 0)")

    def run(self) -> None:
        self.start_core()
        self.start_remote()
        self.show_received()
        mark = self.change_level()
        self.see_change(mark)
        self.stop_all()

    def cleanup(self) -> None:
        for child in (self.remote, self.core):
            if child is not None:
                child.kill()


def main(out: TextIO | None = None) -> int:
    """Run the demo; returns the exit status."""
    console = Console(out or sys.stdout)
    workdir = Path(tempfile.mkdtemp(prefix="configstream-demo-"))
    demo = Demo(workdir, console)
    console.line("Config stream demo: a core agent streams its configuration to a remote agent.")
    try:
        demo.run()
    except DemoError as exc:
        demo.cleanup()
        console.line()
        console.line(f"DEMO FAILED at step {demo.step_name!r}: {exc}")
        console.line(f"(files kept in {workdir})")
        return 1
    except KeyboardInterrupt:
        demo.cleanup()
        console.line()
        console.line("demo interrupted")
        return 130
    except BaseException:
        demo.cleanup()
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    console.line()
    console.line("Demo finished: the remote agent followed the core agent's configuration live.")
    return 0
