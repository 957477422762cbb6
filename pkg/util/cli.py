"""The edge of every binary: never a traceback, one line on stderr, documented exit codes.

Exit codes: 0 success (also when the reader of the output went away: ``core-agent config list |
head -1``), 1 failure, 2 bad usage (argparse's own code), 130 interrupted by SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from pkg.scrub import scrub_text

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "add_config_path_option",
    "add_version_command",
    "add_version_option",
    "config_file_path",
    "guarded",
    "package_version",
    "reject_undecodable_arguments",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


_DISTRIBUTION = "dd-configstream"


def package_version() -> str:
    """The installed version of the package (read only when asked: metadata is slow to import)."""
    from importlib import metadata

    try:
        return metadata.version(_DISTRIBUTION)
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


class _VersionAction(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(f"{parser.prog} {package_version()}")
        parser.exit(EXIT_OK)


def add_version_option(parser: argparse.ArgumentParser) -> None:
    """``--version``: print ``PROG VERSION`` and exit 0."""
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="print the version and exit")


def add_config_path_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``-c/--cfgpath/--config PATH`` into ``config_file``: a ``datadog.yaml`` or the directory
    holding it (see :func:`config_file_path`)."""
    parser.add_argument(
        "-c", "--cfgpath", "--config", dest="config_file", type=Path, metavar="PATH", help=help_text
    )


def add_version_command(parser: argparse.ArgumentParser, without: str) -> None:
    """An optional ``version`` positional and ``--version``, both printing the version; ``without``
    says what the binary does when the word is absent."""
    parser.add_argument(
        "command",
        nargs="?",
        choices=["version"],
        help=f"'version': print the version and exit (without it: {without})",
    )
    add_version_option(parser)


def config_file_path(path: Path | None) -> Path | None:
    """``-c`` may name the directory that holds ``datadog.yaml``, as in the Go agent."""
    if path is not None and path.is_dir():
        return path / "datadog.yaml"
    return path


def _undecodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def reject_undecodable_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit 2 naming the first text argument that is not valid UTF-8 (bytes such as ``\\xff`` reach
    Python as lone surrogates: no setting, name or address can hold them). Paths are left alone:
    a file name need not be UTF-8."""
    for name, value in vars(args).items():
        for item in value if isinstance(value, list | tuple) else (value,):
            if isinstance(item, str) and _undecodable(item):
                shown = item.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                parser.error(f"argument {name}: '{shown}' is not valid UTF-8 text")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _report(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def guarded(prog: str, body: Callable[[], int]) -> int:
    """Run a binary's body and return its exit code; whatever escapes it ends as an exit code, with
    at most one (scrubbed) line on stderr, never a traceback."""
    try:
        code = body()
        sys.stdout.flush()  # here, not at the interpreter's exit, where a failure cannot be handled
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0]
        _report(f"{prog}: unexpected error: {type(exc).__name__}: {scrub_text(first_line)}".rstrip(": "))
        return EXIT_FAILURE
