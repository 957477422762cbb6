"""The same command-line habits in the three binaries: -c/--cfgpath/--config PATH (a file or the
directory holding datadog.yaml), ``version`` and ``--version``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import config_stream_client.options as stream_client
import sample_remote_agent.options as sample_agent
from core_agent.main import build_parser as core_agent_parser
from core_agent.main import config_path

ParseConfig = Callable[[list[str]], Path | None]


def _stream_client_config(argv: list[str]) -> Path | None:
    return stream_client.parse_options(argv).config_file


def _sample_agent_config(argv: list[str]) -> Path | None:
    return sample_agent.parse_options(argv).config_file


def _core_agent_config(argv: list[str]) -> Path | None:
    path: Path | None = config_path(core_agent_parser().parse_args([*argv, "status"]).config)
    return path


BINARIES: dict[str, ParseConfig] = {
    "config-stream-client": _stream_client_config,
    "sample-remote-agent": _sample_agent_config,
    "core-agent": _core_agent_config,
}


@pytest.mark.parametrize("binary", sorted(BINARIES))
@pytest.mark.parametrize("flag", ["-c", "--cfgpath", "--config"])
def test_cfgpath_takes_a_file_or_the_directory_holding_datadog_yaml(
    binary: str, flag: str, tmp_path: Path
) -> None:
    parse = BINARIES[binary]
    assert parse([flag, str(tmp_path / "other.yaml")]) == tmp_path / "other.yaml"
    assert parse([flag, str(tmp_path)]) == tmp_path / "datadog.yaml"


@pytest.mark.parametrize(
    ("prog", "parse"),
    [
        ("config-stream-client", stream_client.parse_options),
        ("sample-remote-agent", sample_agent.parse_options),
    ],
)
def test_version_and_dash_dash_version_print_the_version_and_exit_0(
    prog: str, parse: Callable[[list[str]], object], capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for argv in (["version"], ["--version"]):
        with pytest.raises(SystemExit) as exit_info:
            parse(argv)
        assert exit_info.value.code == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith(f"{prog} ") and outputs[0].strip() != prog


@pytest.mark.parametrize("parse", [stream_client.parse_options, sample_agent.parse_options])
def test_an_unknown_command_is_bad_usage(
    parse: Callable[[list[str]], object], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["versoin"])
    assert exit_info.value.code == 2
    assert "versoin" in capsys.readouterr().err
