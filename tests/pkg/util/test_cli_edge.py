"""The binaries' edge: exit codes and one scrubbed line instead of a traceback."""

from __future__ import annotations

import argparse

import pytest

from pkg.util.cli import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, guarded, reject_undecodable_arguments


def _raise(exc: BaseException) -> int:
    raise exc


def test_guarded_returns_the_body_code() -> None:
    assert guarded("tool", lambda: 3) == 3


def test_unexpected_errors_become_one_scrubbed_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = guarded("tool", lambda: _raise(RuntimeError("dial http://u:planted-pw@h failed\nsecond line")))
    assert code == EXIT_FAILURE
    err = capsys.readouterr().err
    assert err == "tool: unexpected error: RuntimeError: dial http://u:********@h failed\n"


def test_interrupt_and_closed_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert guarded("tool", lambda: _raise(KeyboardInterrupt())) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == ""


def test_undecodable_text_arguments_are_refused_paths_are_not(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="tool")
    reject_undecodable_arguments(parser, argparse.Namespace(path=None, keys=["ok"], n=1))
    with pytest.raises(SystemExit) as exited:
        reject_undecodable_arguments(parser, argparse.Namespace(keys=["ok", "a\udcff"]))
    assert exited.value.code == 2
    assert "argument keys: 'a\\xff' is not valid UTF-8 text" in capsys.readouterr().err
    assert EXIT_OK == 0
