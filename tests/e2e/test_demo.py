"""``python -m demo`` (``make demo``) runs end to end, and a failing step is reported clearly."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from demo.children import Child, Console, DemoError, child_env

REPO = Path(__file__).resolve().parents[2]


def test_the_demo_runs_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=REPO,
        env=child_env({}),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    for expected in (
        "==> [1/6] Start the core agent (embedded default config, IPC port",
        "==> [2/6] Start the sample remote agent",
        "    [remote-agent] ready: ",
        "the remote agent runs with log_level info (source: file)",
        "$ core-agent config set log_level debug",
        "    [remote-agent] change: log_level = debug (source: agent-runtime)",
        "and it now logs at debug level",
        "remote-agent stopped cleanly (exit status 0)",
        "core-agent stopped cleanly (exit status 0)",
        "Demo finished: the remote agent followed the core agent's configuration live.",
    ):
        assert expected in out, f"missing {expected!r} in:\n{out}"
    steps = [line for line in out.splitlines() if line.startswith("==> [")]
    assert len(steps) == 6


def test_a_child_that_exits_early_is_reported_with_its_status(tmp_path: Path) -> None:
    console_out = io.StringIO()
    child = Child(
        "short",
        [sys.executable, "-c", "print('hello'); raise SystemExit(3)"],
        Console(console_out),
        env=child_env({}),
        cwd=str(tmp_path),
    )
    assert child.wait_for("^hello$", 10).group(0) == "hello"
    with pytest.raises(
        DemoError, match=r"short exited with status 3 before printing a line matching 'never'"
    ):
        child.wait_for("never", 10)
    assert "    [short] hello" in console_out.getvalue()


def test_a_line_that_never_comes_is_reported_after_the_timeout(tmp_path: Path) -> None:
    child = Child(
        "quiet",
        [sys.executable, "-c", "import time; time.sleep(30)"],
        Console(io.StringIO()),
        env=child_env({}),
        cwd=str(tmp_path),
    )
    try:
        with pytest.raises(DemoError, match=r"quiet printed no line matching 'ready' within 0.3s"):
            child.wait_for("ready", 0.3)
    finally:
        assert child.stop() != 0  # SIGTERM ends it
