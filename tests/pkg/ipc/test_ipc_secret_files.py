"""Auth token and private files: creation modes, reloads, refusals, racing creators."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pkg.ipc import (
    MIN_AUTH_TOKEN_LENGTH,
    InsecureFileModeError,
    IpcError,
    IpcFileMissingError,
    create_or_load_auth_token,
    load_auth_token,
    publish_new_file,
    tokens_match,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_token_is_created_with_mode_0600_in_new_0700_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "auth_token"
    token = create_or_load_auth_token(path)
    assert len(token) == MIN_AUTH_TOKEN_LENGTH == 64
    int(token, 16)  # hex
    assert path.read_text() == token
    assert _mode(path) == 0o600
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700


def test_existing_parent_directory_keeps_its_mode(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    create_or_load_auth_token(tmp_path / "auth_token")
    assert _mode(tmp_path) == 0o755


def test_reload_gives_the_same_token_and_a_new_file_a_new_one(tmp_path: Path) -> None:
    first = create_or_load_auth_token(tmp_path / "auth_token")
    assert create_or_load_auth_token(tmp_path / "auth_token") == first
    assert load_auth_token(tmp_path / "auth_token") == first
    assert create_or_load_auth_token(tmp_path / "other") != first


def test_token_with_surrounding_whitespace_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "auth_token"
    path.write_text("  " + "ab" * 32 + "\n")
    path.chmod(0o600)
    assert load_auth_token(path) == "ab" * 32


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660])
def test_token_accessible_by_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "auth_token"
    create_or_load_auth_token(path)
    path.chmod(mode)
    with pytest.raises(InsecureFileModeError) as err:
        create_or_load_auth_token(path)
    message = str(err.value)
    assert str(path) in message
    assert f"{mode:04o}" in message
    assert f"chmod 600 {path}" in message
    assert err.value.mode == mode


@pytest.mark.parametrize("content", ["", "\n", "abc", "a" * (MIN_AUTH_TOKEN_LENGTH - 1)])
def test_empty_or_short_token_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "auth_token"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(IpcError, match="at least 64"):
        create_or_load_auth_token(path)
    assert path.read_text() == content  # never silently replaced


def test_token_with_spaces_inside_or_non_ascii_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "auth_token"
    path.write_text("a" * 40 + " " + "b" * 40)
    path.chmod(0o600)
    with pytest.raises(IpcError, match="authorization header"):
        load_auth_token(path)
    path.write_bytes("é".encode() * 40)
    with pytest.raises(IpcError, match="not ASCII"):
        load_auth_token(path)


def test_loading_a_missing_token_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "auth_token"
    with pytest.raises(IpcFileMissingError, match=re.escape(str(path))):
        load_auth_token(path)
    assert not path.exists()


def test_a_directory_is_not_a_token_file(tmp_path: Path) -> None:
    (tmp_path / "auth_token").mkdir(mode=0o700)
    with pytest.raises(IpcError, match="not a regular file"):
        create_or_load_auth_token(tmp_path / "auth_token")


def test_publish_never_replaces_an_existing_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    assert publish_new_file(path, b"first") is True
    assert publish_new_file(path, b"second") is False
    assert path.read_bytes() == b"first"
    assert _mode(path) == 0o600
    assert os.listdir(tmp_path) == ["secret"]


def test_racing_creators_all_get_the_one_token_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "state" / "auth_token"
    creators = 16
    barrier = threading.Barrier(creators)

    def create() -> str:
        barrier.wait(timeout=10)
        return create_or_load_auth_token(path)

    with ThreadPoolExecutor(creators) as pool:
        tokens = set(pool.map(lambda _: create(), range(creators)))
    assert tokens == {path.read_text()}
    assert os.listdir(path.parent) == ["auth_token"]


def test_tokens_match_is_exact() -> None:
    token = "ab" * 32
    assert tokens_match(token, token)
    assert not tokens_match(token[:-1], token)
    assert not tokens_match(token.upper(), token)
    assert not tokens_match("", token)
    assert not tokens_match("é", token)


def test_racing_processes_all_load_the_same_token_and_certificate(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from pkg.ipc import *; d = Path(sys.argv[1]); "
        "print(create_or_load_auth_token(d / 'auth_token'), "
        "create_or_load_ipc_certificate(d / 'ipc_cert.pem').certificate.serial_number)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert [proc.returncode for proc in procs] == [0] * 4
    assert len(outputs) == 1
    assert sorted(os.listdir(tmp_path / "run")) == ["auth_token", "ipc_cert.pem"]
