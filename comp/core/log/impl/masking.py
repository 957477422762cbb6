"""A logging filter that masks a secret (the API key) in log records."""

from __future__ import annotations

import logging

__all__ = ["MIN_SECRET_LENGTH", "SecretMaskingFilter", "mask"]

MIN_SECRET_LENGTH = 5
_VISIBLE_CHARS = 4
_exception_formatter = logging.Formatter()


def mask(secret: str) -> str:
    """``***`` followed by the secret's last four characters."""
    return "***" + secret[-_VISIBLE_CHARS:]


class SecretMaskingFilter(logging.Filter):
    """Replaces every occurrence of the secret in a record's message, traceback and stack.

    Attach it to a handler (a logger's filters do not see records propagated from child loggers).
    Secrets shorter than five characters are not masked: masking them would garble ordinary text.
    :meth:`set_secret` may be called from any thread.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secret: str | None = None

    def set_secret(self, secret: str) -> None:
        self._secret = secret if len(secret) >= MIN_SECRET_LENGTH else None

    def filter(self, record: logging.LogRecord) -> bool:
        secret = self._secret
        if secret is None:
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True  # a malformed record: the handler reports it without formatting the arguments
        masked = mask(secret)
        if secret in message:
            record.msg, record.args = message.replace(secret, masked), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _exception_formatter.formatException(record.exc_info)
        if record.exc_text and secret in record.exc_text:
            record.exc_text = record.exc_text.replace(secret, masked)
        if record.stack_info and secret in record.stack_info:
            record.stack_info = record.stack_info.replace(secret, masked)
        return True
