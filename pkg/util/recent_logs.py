"""The last log lines of a process, kept in memory for support files (flares)."""

from __future__ import annotations

import collections
import logging
import threading

__all__ = ["RecentLogs"]

_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"


class RecentLogs(logging.Handler):
    """The last ``capacity`` formatted records of the root logger between :meth:`start` and
    :meth:`stop` (async, to be lifecycle hooks). Thread-safe."""

    def __init__(self, capacity: int = 2000) -> None:
        super().__init__(logging.DEBUG)
        self._lines: collections.deque[str] = collections.deque(maxlen=capacity)
        self._guard = threading.Lock()
        self.setFormatter(logging.Formatter(_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        with self._guard:
            self._lines.append(line)

    def lines(self) -> list[str]:
        with self._guard:
            return list(self._lines)

    def text(self) -> str:
        """The lines, each ended by a newline."""
        return "".join(line + "\n" for line in self.lines())

    async def start(self) -> None:
        logging.getLogger().addHandler(self)

    async def stop(self) -> None:
        logging.getLogger().removeHandler(self)
