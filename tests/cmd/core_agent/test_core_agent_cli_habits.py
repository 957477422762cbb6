"""The Go agent's CLI habits: -c/--cfgpath anywhere, a directory for -c, version, config alone."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from core_agent.client import ACTIONS
from core_agent.main import build_parser, config_path, main


@pytest.mark.parametrize(
    "argv",
    [
        ["-c", "x.yaml", "config", "list"],
        ["config", "list", "-c", "x.yaml"],
        ["--cfgpath", "x.yaml", "status"],
        ["status", "--cfgpath", "x.yaml"],
        ["config", "--config", "x.yaml"],
    ],
)
def test_cfgpath_goes_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.config == Path("x.yaml")


def test_cfgpath_may_name_the_directory_holding_datadog_yaml(tmp_path: Path) -> None:
    assert config_path(tmp_path) == tmp_path / "datadog.yaml"
    assert config_path(tmp_path / "other.yaml") == tmp_path / "other.yaml"
    assert config_path(None) is None


def test_config_alone_lists_everything_and_every_action_has_a_function() -> None:
    args = build_parser().parse_args(["config", "--json"])
    assert (args.action, args.prefix, args.json) == ("list", "", True)
    runtime = build_parser().parse_args(["config", "list-runtime", "--json"])
    assert runtime.action == "list-runtime" and runtime.json
    assert runtime.action in ACTIONS and args.action in ACTIONS


def _subcommands(
    parser: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield f"{path} {name}".strip(), child
                yield from _subcommands(child, f"{path} {name}")


def test_every_subcommand_has_a_handler_and_every_client_action_a_function() -> None:
    subcommands = dict(_subcommands(build_parser()))
    assert {"run", "config set", "status", "health", "fleet set"} <= subcommands.keys()
    actions = set()
    for name, parser in subcommands.items():
        handler = parser.get_default("handler")
        has_children = any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
        assert callable(handler) or has_children, f"core-agent {name} has no handler"
        if parser.get_default("action") is not None:
            actions.add(parser.get_default("action"))
    assert actions == set(ACTIONS), "client actions of the parser and of core_agent.client differ"


def test_version_and_dash_dash_version_print_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("core-agent ") and first.strip() != "core-agent"
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == first


@pytest.mark.parametrize(
    "argv",
    [
        ["config", "--json", "list"],
        ["config", "list", "--json"],
        ["config", "--json", "list-runtime"],
        ["config", "--json", "get", "log_level"],
    ],
)
def test_json_given_to_config_survives_the_action(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).json is True


def test_timeout_given_to_config_survives_the_action() -> None:
    assert build_parser().parse_args(["config", "--timeout", "9", "list"]).timeout == 9.0
    assert build_parser().parse_args(["config", "get", "k", "--timeout", "7"]).timeout == 7.0
    assert build_parser().parse_args(["config", "list"]).timeout == 5.0
    assert build_parser().parse_args(["config", "list"]).json is False


def test_health_is_a_client_action() -> None:
    args = build_parser().parse_args(["health", "-c", "x.yaml", "--timeout", "2"])
    assert (args.action, args.config, args.timeout) == ("health", Path("x.yaml"), 2.0)
    assert args.action in ACTIONS


def test_every_subcommand_accepts_cfgpath_after_it() -> None:
    missing = [
        name
        for name, parser in _subcommands(build_parser())
        if not {"-c", "--cfgpath", "--config"} <= parser._option_string_actions.keys()
    ]
    assert not missing
    assert main(["version", "-c", "x.yaml"]) == 0
