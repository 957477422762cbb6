"""The core agent's recent log lines, kept in memory for flares."""

from __future__ import annotations

import collections
import logging
import threading

__all__ = ["RecentLogs"]

_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"


class RecentLogs(logging.Handler):
    """The last ``capacity`` formatted records of the root logger while started."""

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

    def text(self) -> str:
        with self._guard:
            return "".join(line + "\n" for line in self._lines)

    async def start(self) -> None:
        logging.getLogger().addHandler(self)

    async def stop(self) -> None:
        logging.getLogger().removeHandler(self)
