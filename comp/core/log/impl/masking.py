"""A logging filter that scrubs secrets from log records (pkg.scrub's text rules)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pkg.scrub import TextScrubber

__all__ = ["SecretMaskingFilter"]

_exception_formatter = logging.Formatter()


class SecretMaskingFilter(logging.Filter):
    """Scrubs every record's message, traceback and stack: the known secret values of the running
    config, ``key: value`` pairs of credentials, bearer tokens, URL credentials (see pkg.scrub).

    Attach it to a handler (a logger's filters do not see records propagated from child loggers).
    :meth:`set_secrets` may be called from any thread.
    """

    def __init__(self) -> None:
        super().__init__()
        self._scrubber = TextScrubber()

    def set_secrets(self, secrets: Iterable[str]) -> None:
        """Replace the known secret values (values shorter than five characters are not searched)."""
        self._scrubber.set_known(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        scrub = self._scrubber.scrub
        try:
            message = record.getMessage()
        except Exception:
            return True  # a malformed record: the handler reports it without formatting the arguments
        scrubbed = scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _exception_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True
