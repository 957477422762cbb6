"""``datadog.model.v1.ConfigEvent`` messages from config changes and snapshots.

A value that cannot be converted (see :mod:`pkg.protoconv.values`) does not stop the event: the
setting is sent with a null value, its key and its source, and ``on_error(key, error)`` is called so
that the caller logs and counts it. The key is thus never a silent hole in a snapshot, and an update
keeps its place in the sequence (skipping it would look like a gap and force a resync).

Sequence ids are ``int32`` on the wire. :func:`wire_sequence_id` keeps the low 32 bits as a signed
number, like the Go agent's ``int32(id)`` conversion: after 2**31 - 1 changes a client sees one
discontinuity, resyncs, and then follows the wrapped ids. :func:`sequence_id_from_wire` maps a wire id
a client sends back (to resume) to the internal id it stands for.

Resume extension: a snapshot sent to a client that asked for the extension carries
``ConfigSnapshot.epoch`` (field 100). :func:`snapshot_epoch_suffix` gives the bytes that, appended to
a serialized snapshot ``ConfigEvent``, set that field: a parser merges repeated occurrences of an
embedded message field (the oneof member ``snapshot`` included), so the concatenation parses as the
full snapshot plus its epoch, and the snapshot sent to other clients is left byte-for-byte as is.

The core answers a request carrying ``resume_from`` with initial metadata, before any event (a resume
with nothing missed sends none): ``configstream-epoch: <epoch>`` and ``configstream-resume:`` one of
:class:`ResumeAnswer`. A request without ``resume_from`` gets no such header; a core without this part
of the extension (or the Go agent) sends none either, and the client must then tell from the events.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum

from google.protobuf import struct_pb2

from pkg.config.change import ConfigChange, Setting
from pkg.config.sources import Source
from pkg.config.wire_size import field_size, text_size, varint_size
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.protoconv.values import MAX_EXACT_INT, ValueConversionError, fill_value

__all__ = [
    "DIRECT_ENCODING_SETTINGS",
    "EPOCH_HEADER",
    "RESUME_HEADER",
    "ConversionErrorHandler",
    "ResumeAnswer",
    "encode_snapshot",
    "resume_answer_from_metadata",
    "resume_headers",
    "sequence_id_from_wire",
    "setting_message",
    "snapshot_epoch_suffix",
    "snapshot_event",
    "snapshot_payload",
    "update_event",
    "varint",
    "wire_sequence_id",
]

ConversionErrorHandler = Callable[[str, ValueConversionError], None]
"""Called with the key and the error of a value sent as null because it cannot be converted."""

EPOCH_HEADER = "configstream-epoch"
RESUME_HEADER = "configstream-resume"


class ResumeAnswer(StrEnum):
    """The core's answer to ``resume_from``, in the ``configstream-resume`` header."""

    ACCEPTED = "accepted"
    """The stream continues after the resume point: the missed updates (maybe none), no snapshot."""
    REFUSED = "refused"
    """A snapshot follows (another epoch, or the history no longer holds the missed updates)."""
    NONE = "none"
    """The request's epoch was empty (the client only announced the extension): a snapshot follows."""


def resume_headers(epoch: str, answer: ResumeAnswer) -> tuple[tuple[str, str], ...]:
    """The initial metadata answering a request with ``resume_from``."""
    return ((EPOCH_HEADER, epoch), (RESUME_HEADER, answer.value))


def resume_answer_from_metadata(metadata: Iterable[tuple[str, str | bytes]]) -> ResumeAnswer | None:
    """The answer in a stream's initial metadata; None when absent or unknown (a core without it)."""
    for key, value in metadata:
        if key == RESUME_HEADER:
            text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
            try:
                return ResumeAnswer(text)
            except ValueError:
                return None
    return None


def wire_sequence_id(sequence_id: int) -> int:
    """``sequence_id`` as the wire's ``int32``: its low 32 bits, signed."""
    low = sequence_id & 0xFFFF_FFFF
    return low - 2**32 if low >= 2**31 else low


def sequence_id_from_wire(wire_id: int, near: int) -> int:
    """The internal id nearest to ``near`` whose wire form is ``wire_id``.

    The answer lies within ``[near - 2**31, near + 2**31)``: ids are compared in the wire's int32
    space, so a resume point is found across a wrap of the wire ids.
    """
    return near + wire_sequence_id(wire_id - near)


def setting_message(
    target: configstream_pb2.ConfigSetting,
    key: str,
    value: object,
    source: str,
    *,
    unset_source: str = "",
    on_error: ConversionErrorHandler | None = None,
) -> None:
    """Fill ``target`` (a new or repeated-field ``ConfigSetting``) in place."""
    target.key = key
    target.source = source
    if unset_source:
        target.unset_source = unset_source
    try:
        fill_value(target.value, value, path=key)
    except ValueConversionError as exc:  # fill_value left a null value in place
        if on_error is not None:
            on_error(key, exc)


def update_event(
    origin: str, change: ConfigChange, on_error: ConversionErrorHandler | None = None
) -> configstream_pb2.ConfigEvent:
    """A ``ConfigEvent`` holding a ``ConfigUpdate`` for one change.

    ``source`` is the new effective source ("" when no source holds the key any more); an unset
    carries ``unset_source`` and the new effective value (null when none is left).
    """
    event = configstream_pb2.ConfigEvent()
    update = event.update
    update.origin = origin
    update.sequence_id = wire_sequence_id(change.sequence_id)
    setting_message(
        update.setting,
        change.key,
        change.new,
        str(change.source) if change.source is not None else "",
        unset_source=str(change.unset_source) if change.unset_source is not None else "",
        on_error=on_error,
    )
    return event


def snapshot_event(
    origin: str,
    sequence_id: int,
    settings: Mapping[str, Setting],
    on_error: ConversionErrorHandler | None = None,
) -> configstream_pb2.ConfigEvent:
    """A ``ConfigEvent`` holding a ``ConfigSnapshot`` of ``settings``, sorted by key."""
    event = configstream_pb2.ConfigEvent()
    snapshot = event.snapshot
    snapshot.origin = origin
    snapshot.sequence_id = wire_sequence_id(sequence_id)
    snapshot.SetInParent()  # an empty configuration is still a snapshot
    add = snapshot.settings.add
    source_names: dict[object, str] = {}
    # The loop of a 100,000-setting snapshot: text values (most of a config) are set directly, the
    # rest go through fill_value; source names are computed once per source.
    for key in sorted(settings):
        setting = settings[key]
        source = setting.source
        name = source_names.get(source)
        if name is None:
            name = source_names[source] = str(source)
        entry = add()
        entry.key = key
        entry.source = name
        value = setting.value
        if type(value) is str:
            try:
                entry.value.string_value = value
                continue
            except (ValueError, UnicodeError):  # not valid UTF-8: fill_value names the problem
                pass
        try:
            fill_value(entry.value, value, path=key)
        except ValueConversionError as exc:  # fill_value left a null value in place
            if on_error is not None:
                on_error(key, exc)
    return event


def varint(number: int) -> bytes:
    """``number`` as a protobuf varint; a negative one as its 64-bit two's complement (int32 fields)."""
    if number < 0:
        number += 1 << 64
    if number < 0x80:
        return bytes((number,))
    out = bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


_SMALL_VARINTS = tuple(varint(n) for n in range(1 << 14))
_NULL_VALUE = b"\x08\x00"  # Value.null_value = NULL_VALUE (a set oneof member is always written)
_BOOL_VALUES = (b"\x20\x00", b"\x20\x01")
_DOUBLE = struct.Struct("<d")


def _length(size: int) -> bytes:
    return _SMALL_VARINTS[size] if size < len(_SMALL_VARINTS) else varint(size)


def _value_bytes(key: str, value: object, on_error: ConversionErrorHandler | None) -> bytes:
    """The serialized ``google.protobuf.Value`` of one setting (null, reported, when unconvertible)."""
    kind = type(value)
    if kind is str:
        try:
            text = str.encode(value, "utf-8")  # type: ignore[arg-type]
        except UnicodeEncodeError:
            pass  # fill_value names the problem below
        else:
            return b"\x1a" + _length(len(text)) + text
    elif value is None:
        return _NULL_VALUE
    elif isinstance(value, bool):
        return _BOOL_VALUES[value]
    elif (kind is int and -MAX_EXACT_INT <= value <= MAX_EXACT_INT) or (  # type: ignore[operator]
        isinstance(value, float) and math.isfinite(value)
    ):
        return b"\x11" + _DOUBLE.pack(value)
    message = struct_pb2.Value()
    try:
        fill_value(message, value, path=key)
    except ValueConversionError as exc:  # fill_value left a null value in place
        if on_error is not None:
            on_error(key, exc)
    return message.SerializeToString()


def snapshot_payload(
    origin: str,
    sequence_id: int,
    settings: Mapping[str, Setting],
    on_error: ConversionErrorHandler | None = None,
) -> bytes:
    """The serialized ``ConfigEvent`` of :func:`snapshot_event` (the same message: same fields, same
    order), encoded directly without building the message.

    Two passes: the first sizes every entry (ASCII text, most of a config, is sized without being
    encoded; other values are encoded once and kept), the second writes the entries into a buffer of
    the final size. The only large allocation is the result itself: for 100,000 settings, about a
    quarter of the peak memory of ``snapshot_event(...).SerializeToString()``, in about the same time.
    """
    head = b""
    if origin:
        head += _length_delimited(b"\x0a", origin.encode("utf-8"))
    wire_id = wire_sequence_id(sequence_id)
    if wire_id:
        head += b"\x10" + varint(wire_id)
    keys = sorted(settings)
    source_fields = {
        source: _length_delimited(b"\x0a", name) if (name := str(source).encode("utf-8")) else b""
        for source in {setting.source for setting in settings.values()}
    }
    encoded_values: dict[str, bytes] = {}  # values that are not ASCII text, encoded in the first pass
    body_size = len(head) + _entries_size(keys, settings, source_fields, encoded_values, on_error)
    out = io.BytesIO()
    total = field_size(body_size)
    out.seek(total - 1)  # sized once: the writes below never grow the buffer
    out.write(b"\0")
    out.seek(0)
    out.write(b"\x0a" + _length(body_size) + head)
    _write_entries(out, keys, settings, source_fields, encoded_values)
    if out.tell() != total:  # pragma: no cover - the two passes disagree: a bug, not an input
        raise AssertionError(f"snapshot sized {total} bytes, written {out.tell()}")
    return out.getvalue()  # the buffer itself, not a copy


# The two loops below run once per setting: varint lengths are inlined for the common small sizes.


def _entries_size(
    keys: Iterable[str],
    settings: Mapping[str, Setting],
    source_fields: Mapping[Source, bytes],
    encoded_values: dict[str, bytes],
    on_error: ConversionErrorHandler | None,
) -> int:
    """Bytes of the snapshot's ``settings`` fields; values other than ASCII text are encoded into
    ``encoded_values``."""
    total = 0
    for key in keys:
        setting = settings[key]
        key_size = text_size(key)
        value = setting.value
        if type(value) is str and value.isascii():
            size = len(value)
            value_size = size + (2 if size < 128 else 1 + varint_size(size))
        else:
            value_size = len(encoded_values.setdefault(key, _value_bytes(key, value, on_error)))
        entry_size = len(source_fields[setting.source]) + value_size
        entry_size += 2 if value_size < 128 else 1 + varint_size(value_size)
        if key_size:
            entry_size += key_size + (2 if key_size < 128 else 1 + varint_size(key_size))
        total += entry_size + (2 if entry_size < 128 else 1 + varint_size(entry_size))
    return total


def _write_entries(
    out: io.BytesIO,
    keys: Iterable[str],
    settings: Mapping[str, Setting],
    source_fields: Mapping[Source, bytes],
    encoded_values: Mapping[str, bytes],
) -> None:
    write = out.write
    get_encoded = encoded_values.get
    small = _SMALL_VARINTS
    limit = len(small)
    for key in keys:
        setting = settings[key]
        encoded = get_encoded(key)
        if encoded is None:
            text = setting.value.encode("ascii")
            size = len(text)
            encoded = b"\x1a" + (small[size] if size < limit else varint(size)) + text
        name = key.encode("utf-8")
        size = len(name)
        entry = source_fields[setting.source]
        if size:
            entry += b"\x12" + (small[size] if size < limit else varint(size)) + name
        size = len(encoded)
        entry += b"\x1a" + (small[size] if size < limit else varint(size)) + encoded
        size = len(entry)
        write(b"\x1a" + (small[size] if size < limit else varint(size)) + entry)


def _length_delimited(tag: bytes, content: bytes) -> bytes:
    return tag + _length(len(content)) + content


DIRECT_ENCODING_SETTINGS = 25_000
"""From this many settings :func:`encode_snapshot` encodes directly (:func:`snapshot_payload`)."""


def encode_snapshot(
    origin: str,
    sequence_id: int,
    settings: Mapping[str, Setting],
    on_error: ConversionErrorHandler | None = None,
) -> bytes:
    """The serialized snapshot ``ConfigEvent`` of ``settings``: through the message below
    :data:`DIRECT_ENCODING_SETTINGS` settings (the faster way there), encoded directly from there
    on (the message peaks at about 8.7x the snapshot's bytes, the direct encoding at about 2.3x:
    at that size memory matters more). Both ways give the same bytes."""
    if len(settings) < DIRECT_ENCODING_SETTINGS:
        return snapshot_event(origin, sequence_id, settings, on_error).SerializeToString()
    return snapshot_payload(origin, sequence_id, settings, on_error)


def snapshot_epoch_suffix(epoch: str) -> bytes:
    """Bytes to append to a serialized snapshot ``ConfigEvent`` so that it carries ``epoch``.

    The result is a serialized ``ConfigEvent`` holding a snapshot with only ``epoch`` set: parsing
    ``payload + suffix`` merges both snapshots (embedded message fields merge) into the original one
    with ``epoch`` set. Appending to an update ``ConfigEvent`` would turn it into a snapshot: don't.
    """
    event = configstream_pb2.ConfigEvent()
    event.snapshot.epoch = epoch
    event.snapshot.SetInParent()
    return event.SerializeToString()
