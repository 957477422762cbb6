"""Where log records go: stderr and a rolled file, as text lines or one JSON object per line.

:class:`Outputs` is read from the config (``log_to_console``, ``log_file``, ``log_file_max_size``,
``log_file_max_rolls``, ``log_format_json``); :func:`open_handlers` turns it into handlers. Rolling
follows the Go agent: when a write would take the file past ``log_file_max_size`` it is renamed
``<log_file>.1`` (older rolls shift to ``.2`` ... up to ``log_file_max_rolls``, the oldest is
deleted); with 0 rolls the file is truncated instead.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from comp.core.config import def_ as config_def
from pkg.config import keys

__all__ = ["OUTPUT_KEYS", "TEXT_FORMAT", "JsonFormatter", "Outputs", "TextFormatter", "open_handlers"]

OUTPUT_KEYS = frozenset(
    {
        keys.LOG_TO_CONSOLE,
        keys.LOG_FILE,
        keys.LOG_FILE_MAX_SIZE,
        keys.LOG_FILE_MAX_ROLLS,
        keys.LOG_FORMAT_JSON,
    }
)
"""The settings that choose the outputs; a change of any of them reopens them."""

TEXT_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


@dataclass(frozen=True)
class Outputs:
    """The configured outputs; equal values mean nothing to reopen."""

    console: bool
    file: str
    max_bytes: int
    max_rolls: int
    json: bool

    @classmethod
    def from_config(cls, config: config_def.Component) -> Outputs:
        return cls(
            console=config.get_bool(keys.LOG_TO_CONSOLE),
            file=config.get_string(keys.LOG_FILE).strip(),
            max_bytes=config.get_int(keys.LOG_FILE_MAX_SIZE),
            max_rolls=config.get_int(keys.LOG_FILE_MAX_ROLLS),
            json=config.get_bool(keys.LOG_FORMAT_JSON),
        )


class TextFormatter(logging.Formatter):
    """``2024-05-01 12:00:00 UTC | INFO | comp.core.ipc | message``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT, _DATE_FORMAT)
        self.converter = time.gmtime


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``msg``, and
    ``exc`` with the traceback text when there is one. Never spans lines."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry = {
            "time": f"{seconds}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class ConsoleHandler(logging.StreamHandler[TextIO]):
    """The component's stderr handler (its own class, so that a leftover one can be recognised)."""


class RollingFileHandler(logging.handlers.RotatingFileHandler):
    """Rolls at ``max_bytes`` keeping ``max_rolls`` old files; with 0 rolls truncates the file."""

    def doRollover(self) -> None:  # noqa: N802 - the logging API's name
        if self.backupCount > 0:
            super().doRollover()
            return
        if self.stream:
            self.stream.close()
        self.stream = open(self.baseFilename, "w", encoding=self.encoding)  # noqa: SIM115 - kept open


def open_handlers(outputs: Outputs) -> list[logging.Handler]:
    """New handlers for ``outputs``, formatters set; raises OSError naming the file it cannot open."""
    formatter: logging.Formatter = JsonFormatter() if outputs.json else TextFormatter()
    handlers: list[logging.Handler] = []
    if outputs.file:
        path = Path(outputs.file).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler: logging.Handler = RollingFileHandler(
                path, maxBytes=outputs.max_bytes, backupCount=outputs.max_rolls, encoding="utf-8"
            )
        except OSError as exc:
            raise OSError(f"cannot open log_file {str(path)!r}: {exc.strerror or exc}") from None
        handlers.append(handler)
    if outputs.console:
        handlers.append(ConsoleHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(formatter)
    return handlers
