"""Sanitizing the names remote agents choose before they become labels and file names."""

from __future__ import annotations

import re

__all__ = ["MAX_FILE_NAME_LENGTH", "sanitize_file_name", "sanitize_name"]

MAX_FILE_NAME_LENGTH = 255
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def sanitize_name(display_name: str) -> str:
    """A display name as a label value and a directory name: ``[A-Za-z0-9._-]`` only (every other
    character becomes ``_``), at most 255 characters, never empty, ``.`` or ``..``."""
    name = _UNSAFE.sub("_", display_name.strip())[:MAX_FILE_NAME_LENGTH]
    if name in ("", ".", ".."):
        return "unnamed"
    return name


def sanitize_file_name(name: str) -> str:
    """A file name a remote agent sent, made safe inside its flare directory: path separators and
    every character outside ``[A-Za-z0-9._-]`` become ``_``, at most 255 characters (the extension is
    kept when cutting), never empty, ``.`` or ``..``."""
    safe = _UNSAFE.sub("_", name)
    if len(safe) > MAX_FILE_NAME_LENGTH:
        stem, dot, ext = safe.rpartition(".")
        if dot and 0 < len(ext) <= 16 and stem:
            safe = stem[: MAX_FILE_NAME_LENGTH - len(ext) - 1] + "." + ext
        else:
            safe = safe[:MAX_FILE_NAME_LENGTH]
    if safe in ("", ".", ".."):
        return "_" + safe if safe else "unnamed"
    return safe
