"""Keeping a flare within one gRPC message.

A flare travels as one ``CreateFlareResponse``, which must fit ``agent_ipc.grpc_max_message_size``.
:func:`limits_for` derives the limits from that size: room for the envelope (1 KiB: the gRPC prefix
and the response's own framing), for the notes that stand in for left-out files and for
``FLARE_TRUNCATED.txt`` (each a sixteenth of the size, at most 64 KiB); ``total``, what is left, for
the files themselves (path, content and each entry's protobuf framing); ``per_file``, a quarter of
``total``. At the default 4 MiB: 3,967 KiB of files, 991.75 KiB per file.

:func:`bound_files` takes the files in order of importance (the core's first). A file over
``per_file`` keeps its head and ends with a marker line saying how many bytes were dropped and why.
The first file that does not fit in what is left of ``total`` is cut to what is left (when at least
4 KiB is); from then on every file is replaced by a short note. ``FLARE_TRUNCATED.txt`` lists every
file cut or left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pkg.config.wire_size import field_size, text_size

__all__ = [
    "MIN_MESSAGE_BYTES",
    "REPORT_NAME",
    "FlareLimits",
    "bound_files",
    "entry_bytes",
    "limits_for",
]

REPORT_NAME = "FLARE_TRUNCATED.txt"
MIN_MESSAGE_BYTES = 16 * 1024
_ENVELOPE_BYTES = 1024
_MAX_SIDE_BYTES = 64 * 1024
_MIN_PARTIAL_BYTES = 4 * 1024
_SETTING = "agent_ipc.grpc_max_message_size"


@dataclass(frozen=True)
class FlareLimits:
    """What a flare may hold, in bytes as serialized (each file's path and framing counted)."""

    max_message_bytes: int
    """The message the flare must fit: ``agent_ipc.grpc_max_message_size``."""
    total: int
    """All the files."""
    per_file: int
    """One file's content."""
    notes: int
    """The notes that replace files left out once ``total`` is used."""
    report: int
    """``FLARE_TRUNCATED.txt``."""


def limits_for(max_message_bytes: int) -> FlareLimits:
    """The limits of a flare sent in messages of at most ``max_message_bytes``."""
    if max_message_bytes < MIN_MESSAGE_BYTES:
        raise ValueError(
            f"invalid flare message size: {max_message_bytes!r}, expected at least {MIN_MESSAGE_BYTES} bytes"
        )
    side = min(max_message_bytes // 16, _MAX_SIDE_BYTES)
    total = max_message_bytes - _ENVELOPE_BYTES - 2 * side
    return FlareLimits(max_message_bytes, total, total // 4, side, side)


def entry_bytes(path: str, content: bytes) -> int:
    """The bytes one file takes in a ``CreateFlareResponse`` (a ``map<string, bytes>`` entry)."""
    return field_size(field_size(text_size(path)) + field_size(len(content)))


def _head(content: bytes, keep: int) -> bytes:
    """The first ``keep`` bytes at most, not splitting a UTF-8 character."""
    cut = keep
    while cut > 0 and cut > keep - 4 and cut < len(content) and content[cut] & 0xC0 == 0x80:
        cut -= 1
    return content[:cut]


def _truncate(content: bytes, limit: int, why: str) -> bytes:
    """``content`` cut to at most ``limit`` bytes, its marker line included."""

    def marker(dropped: int) -> bytes:
        return (
            f"\n[flare: {dropped} of {len(content)} bytes dropped here by the core agent: {why}]\n"
        ).encode()

    head = _head(content, max(0, limit - len(marker(len(content)))))
    return head + marker(len(content) - len(head))


def _per_file_reason(limits: FlareLimits) -> str:
    return (
        f"a file may hold at most {limits.per_file} bytes in a flare "
        f"(a quarter of what fits in {_SETTING}, {limits.max_message_bytes} bytes)"
    )


def _total_reason(limits: FlareLimits) -> str:
    return (
        f"the flare's files may hold at most {limits.total} bytes in all "
        f"({_SETTING}, {limits.max_message_bytes} bytes, less room for the envelope)"
    )


def _note(size: int, limits: FlareLimits) -> bytes:
    return (
        f"[flare: this file ({size} bytes) was left out by the core agent: {_total_reason(limits)}; "
        f"see {REPORT_NAME}]\n"
    ).encode()


def _report(lines: list[str], limits: FlareLimits) -> bytes:
    text = (
        f"The core agent cut this flare to fit one gRPC message of {limits.max_message_bytes} bytes "
        f"({_SETTING}): each file at most {limits.per_file} bytes, all files at most {limits.total} "
        "bytes.\nFiles cut or left out, the core's first, then each remote agent's:\n\n"
    )
    for index, line in enumerate(lines):
        more = f"... and {len(lines) - index} more\n"
        if entry_bytes(REPORT_NAME, (text + line + "\n" + more).encode()) > limits.report:
            text += more
            break
        text += line + "\n"
    return text.encode()


def bound_files(files: Iterable[tuple[str, bytes]], limits: FlareLimits) -> dict[str, bytes]:
    """``files`` (path, content; the most important first) within ``limits``, plus
    ``FLARE_TRUNCATED.txt`` when anything was cut. Paths must differ from ``FLARE_TRUNCATED.txt``."""
    result: dict[str, bytes] = {}
    cut: list[str] = []
    left = limits.total
    notes_left = limits.notes
    full = False
    for path, content in files:
        size = len(content)
        if not full:
            kept = content
            if size > limits.per_file:
                kept = _truncate(content, limits.per_file, _per_file_reason(limits))
            cost = entry_bytes(path, kept)
            if cost <= left:
                result[path] = kept
                left -= cost
                if kept is not content:
                    cut.append(f"truncated {path}: {size} bytes, more than {limits.per_file} for one file")
                continue
            full = True
            room = left - entry_bytes(path, b"") - 8  # 8: the longer length prefixes of the content
            if room >= _MIN_PARTIAL_BYTES:
                kept = _truncate(content, room, _total_reason(limits))
                result[path] = kept
                left -= entry_bytes(path, kept)
                cut.append(f"truncated {path}: {size} bytes, more than the {room} left of the flare's total")
                continue
        note = _note(size, limits)
        cost = entry_bytes(path, note)
        if cost <= notes_left:
            result[path] = note
            notes_left -= cost
            cut.append(f"left out {path}: {size} bytes, the flare's total was used")
        else:
            cut.append(f"left out {path}: {size} bytes, the flare's total was used (no note: too many files)")
    if cut:
        result[REPORT_NAME] = _report(cut, limits)
    return result
