"""Default locations of the auth token and the certificate."""

from __future__ import annotations

from pathlib import Path

import pytest

from pkg.ipc import IpcError, IpcFilePaths, resolve_ipc_file_paths


def test_token_beside_the_config_file_and_certificate_beside_the_token(tmp_path: Path) -> None:
    paths = resolve_ipc_file_paths(config_file=tmp_path / "datadog.yaml", state_dir=tmp_path / "state")
    assert paths == IpcFilePaths(tmp_path / "auth_token", tmp_path / "ipc_cert.pem")


def test_state_directory_when_there_is_no_config_file(tmp_path: Path) -> None:
    paths = resolve_ipc_file_paths("", "  ", config_file=None, state_dir=tmp_path)
    assert paths == IpcFilePaths(tmp_path / "auth_token", tmp_path / "ipc_cert.pem")


def test_explicit_paths_win(tmp_path: Path) -> None:
    paths = resolve_ipc_file_paths(
        str(tmp_path / "t" / "token"), tmp_path / "c.pem", config_file=tmp_path / "datadog.yaml"
    )
    assert paths == IpcFilePaths(tmp_path / "t" / "token", tmp_path / "c.pem")


def test_explicit_token_moves_the_default_certificate_with_it(tmp_path: Path) -> None:
    paths = resolve_ipc_file_paths(tmp_path / "secrets" / "token", None, config_file=tmp_path / "x.yaml")
    assert paths.ipc_cert == tmp_path / "secrets" / "ipc_cert.pem"


def test_home_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_ipc_file_paths("~/token").auth_token == tmp_path / "token"


def test_nothing_to_locate_the_token_is_an_error() -> None:
    with pytest.raises(IpcError, match="auth_token_file_path"):
        resolve_ipc_file_paths(None, None)
