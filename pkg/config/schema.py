"""Declared config keys: type, default, old names (aliases), secrecy; validation of incoming values.

Validation uses pydantic TypeAdapters in lax mode for scalars, because environment variables and the
command line send text: "5001" is a valid int, "false" a valid bool. Shapes are strict: a list key
takes a list, a mapping key a mapping, whatever the source. Only a value read from an environment
variable (``from_env``) may be text for a list ("a, b c" or YAML "[a, b]") or a mapping (YAML text).
A validated value is stored in its plain form (int, bool, float, str, list, dict); a duration keeps the
value it was given ("30s" or 30) once it is known to parse. Integers stay Python ints of any size (the
wire may carry big ones as decimal text; that is the stream's business). Lists and mappings may nest
:data:`MAX_VALUE_DEPTH` levels deep.

Undeclared keys are accepted with any plain value (None, bool, int, float, str, list, mapping), except
where they would replace a group of declared keys (``remote_agent: 5``) or sit under a declared key.

Usage::

    schema = default_schema()
    schema.declare(KeySpec("my_binary.batch_size", ValueType.INT, 100, minimum=1))
    schema.canonical("Config_Stream.Sleep_Interval")   # "remote_agent.configstream.sleep_interval"
    schema.validate("cmd_port", "5001")                 # 5001
    schema.validate("tags", "a b", from_env=True)       # ["a", "b"]
"""

from __future__ import annotations

import difflib
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from functools import cache
from pathlib import PurePath
from typing import TYPE_CHECKING, Annotated, Any

from pkg.config import keys
from pkg.config.coerce import parse_list_text, parse_mapping_text
from pkg.config.durations import DURATION_EXPECTED, format_duration, parse_duration
from pkg.config.errors import ConfigKeyError, ConfigLimitError, ConfigValueError
from pkg.config.sizes import SIZE_EXPECTED, parse_size
from pkg.config.tree import flatten
from pkg.scrub import is_secret_key

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = [
    "LOG_LEVELS",
    "MAX_KEY_CHARS",
    "MAX_VALUE_DEPTH",
    "KeySpec",
    "RuntimeRefusal",
    "Schema",
    "ValueType",
    "declared_default",
    "declared_spec",
    "default_schema",
    "plain_value",
]

MAX_KEY_CHARS = 256
"""Longest key, aliases and old prefixes included, in characters (every source)."""

MAX_VALUE_DEPTH = 64
"""Deepest nesting of lists and mappings in one value, as in YAML (``pkg.config.safe_yaml.MAX_DEPTH``):
deeper values are refused before anything recurses over them. The stream carries 32 levels
(``pkg.protoconv.values.MAX_DEPTH``) and sends a deeper value as null, logged and counted."""

LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "critical", "off")


class ValueType(StrEnum):
    """The type of a declared key."""

    STRING = "str"
    INT = "int"
    BOOL = "bool"
    FLOAT = "float"
    DURATION = "duration"
    SIZE = "size"
    STRING_LIST = "list[str]"
    STRING_MAP = "dict[str, str]"
    MAP = "dict[str, Any]"


@dataclass(frozen=True)
class KeySpec:
    """One declared key.

    ``aliases``: old full names accepted for the key. ``choices``: allowed values of a string key,
    compared case-insensitively. ``minimum``/``maximum``: bounds of a number, or of a duration in
    seconds. ``secret``: the value must never be shown. ``live``: a change while the agent runs takes
    effect (a component follows it, or only remote agents read it); otherwise the key is read at
    startup and ``config set`` refuses it ("needs a restart").
    """

    key: str
    type: ValueType
    default: Any
    aliases: tuple[str, ...] = ()
    secret: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""
    live: bool = False

    @property
    def expected(self) -> str:
        """What a valid value looks like, for error messages."""
        if self.choices:
            return "one of " + ", ".join(self.choices) + " (any case)"
        text = _EXPECTED[self.type]
        if self.minimum is not None and self.maximum is not None:
            return f"{text} between {_num(self.minimum)} and {_num(self.maximum)}"
        if self.minimum is not None:
            return f"{text} of at least {_num(self.minimum)}"
        if self.maximum is not None:
            return f"{text} of at most {_num(self.maximum)}"
        return text


def _num(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _duration(value: Any) -> Any:
    parse_duration(value)  # raises ConfigValueError (a ValueError) on bad input
    return value.strip() if isinstance(value, str) else value


@cache
def _adapter(value_type: ValueType) -> TypeAdapter[Any]:
    """The pydantic validator of a type, built at first use: pydantic is slow to import, and clients
    that only read declared defaults (:func:`declared_default`) never validate."""
    from pydantic import ConfigDict, PlainValidator, TypeAdapter

    text = ConfigDict(coerce_numbers_to_str=True, allow_inf_nan=False)
    kinds: dict[ValueType, tuple[Any, ConfigDict | None]] = {
        ValueType.STRING: (str, text),
        ValueType.INT: (int, None),
        ValueType.BOOL: (bool, None),
        ValueType.FLOAT: (float, text),
        ValueType.DURATION: (Annotated[Any, PlainValidator(_duration)], None),
        ValueType.SIZE: (Annotated[int, PlainValidator(parse_size)], None),
        ValueType.STRING_LIST: (list[str], text),
        ValueType.STRING_MAP: (dict[str, str], text),
        ValueType.MAP: (dict[str, Any], text),
    }
    kind, config = kinds[value_type]
    return TypeAdapter(kind, config=config)


_FROM_TEXT: dict[ValueType, Callable[..., Any]] = {
    ValueType.STRING_LIST: parse_list_text,
    ValueType.STRING_MAP: parse_mapping_text,
    ValueType.MAP: parse_mapping_text,
}
_EXPECTED = {
    ValueType.STRING: "a string",
    ValueType.INT: "an integer",
    ValueType.BOOL: "a boolean (true or false)",
    ValueType.FLOAT: "a number",
    ValueType.DURATION: DURATION_EXPECTED,
    ValueType.SIZE: SIZE_EXPECTED,
    ValueType.STRING_LIST: "a list of strings",
    ValueType.STRING_MAP: "a mapping of strings to strings",
    ValueType.MAP: "a mapping",
}
_PLAIN_EXPECTED = "a plain value (None, bool, number, string, list or mapping)"
_ENV_TEXT_EXPECTED = {
    ValueType.STRING_LIST: "a list of strings (YAML '[a, b]' or comma/space separated text)",
    ValueType.STRING_MAP: "a mapping of strings to strings (YAML or JSON text)",
    ValueType.MAP: "a mapping (YAML or JSON text)",
}


def plain_value(key: str, value: Any, *, origin: str | None = None, _depth: int = 0) -> Any:
    """A fresh copy of ``value`` in plain form; tuples become lists, paths and durations text.

    Raises ConfigValueError on anything else (objects, sets, non-finite floats), ConfigLimitError on
    lists and mappings nested deeper than :data:`MAX_VALUE_DEPTH`.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
    elif isinstance(value, PurePath):
        return str(value)
    elif isinstance(value, timedelta):
        return format_duration(value)
    elif isinstance(value, list | tuple | Mapping):
        if _depth >= MAX_VALUE_DEPTH:
            where = f" (from {origin})" if origin else ""
            raise ConfigLimitError(
                key,
                f"invalid value for {key!r}{where}: lists and mappings nested deeper than "
                f"{MAX_VALUE_DEPTH} levels",
                limit="MAX_VALUE_DEPTH",
                maximum=MAX_VALUE_DEPTH,
            )
        if isinstance(value, Mapping):
            return {str(k): plain_value(key, v, origin=origin, _depth=_depth + 1) for k, v in value.items()}
        return [plain_value(key, item, origin=origin, _depth=_depth + 1) for item in value]
    raise ConfigValueError(key, value, _PLAIN_EXPECTED, origin=origin)


_CANONICAL_CACHE_MAX = 4096
"""Names whose canonical form a frozen schema remembers (the declared keys and the few others a
running agent reads and writes)."""


@dataclass(frozen=True)
class RuntimeRefusal:
    """Why a running agent does not apply a change of ``key``: ``restart`` when the key is declared
    but read only at startup, else the key is undeclared. ``message`` says so in one line."""

    key: str
    restart: bool
    message: str


class Schema:
    """A set of declared keys and alias rules. Extend it with :meth:`declare` before a config uses it."""

    def __init__(
        self, specs: Iterable[KeySpec] = (), *, prefix_aliases: Mapping[str, str] | None = None
    ) -> None:
        self._specs: dict[str, KeySpec] = {}
        self._aliases: dict[str, str] = {}
        self._prefix_aliases: dict[str, str] = {}
        self._groups: set[str] = set()  # proper prefixes of declared keys ("remote_agent", ...)
        self._open_groups: dict[str, str] = {}  # prefix -> description: any key under it is declared
        self._frozen = False
        self._lock = threading.Lock()
        # Once frozen, names resolve the same way forever: canonical names of keys seen, memoized.
        self._canonical_cache: dict[str, str] = {}
        for old, new in (prefix_aliases or {}).items():
            self.alias_prefix(old, new)
        for spec in specs:
            self.declare(spec)

    # -- declaring ------------------------------------------------------------------------------

    def declare(self, spec: KeySpec) -> None:
        """Add a key. Raises ValueError on a clash (same key or alias, a key nested in another's)."""
        with self._lock:
            self._check_open()
            key = self._normalize(spec.key)
            aliases = tuple(self._normalize(a) for a in spec.aliases)
            for name in (key, *aliases):
                if name in self._specs or name in self._aliases:
                    raise ValueError(f"config key {name!r} is already declared")
                if self._resolve_prefix(name) != name:
                    raise ValueError(f"config key {name!r} lies under an alias prefix")
            for other in self._specs:
                if other.startswith(key + ".") or key.startswith(other + "."):
                    raise ValueError(f"config key {key!r} cannot nest with declared key {other!r}")
            spec = replace(spec, key=key, aliases=aliases)
            spec = replace(spec, default=self._check(spec, spec.default, origin="declared default"))
            self._specs[key] = spec
            for alias in aliases:
                self._aliases[alias] = key
            parts = key.split(".")
            self._groups.update(".".join(parts[:i]) for i in range(1, len(parts)))

    def declare_open_group(self, prefix: str, description: str = "") -> None:
        """Declare every key under ``prefix.`` as a live key of any plain value (a remote agent's
        free-form settings). Raises ValueError when a declared key lies under it."""
        with self._lock:
            self._check_open()
            name = self._normalize(prefix)
            if name in self._specs or any(k.startswith(name + ".") for k in self._specs):
                raise ValueError(f"open group {name!r} would hold declared keys")
            self._open_groups[name] = description

    def alias_prefix(self, old: str, new: str) -> None:
        """Accept every key under ``old.`` as the same key under ``new.``."""
        with self._lock:
            self._check_open()
            self._prefix_aliases[self._normalize(old)] = self._normalize(new)

    def freeze(self) -> None:
        """Refuse further declarations (a config built on this schema relies on it staying the same)."""
        self._frozen = True

    @property
    def frozen(self) -> bool:
        return self._frozen

    def copy(self) -> Schema:
        """An unfrozen copy, to extend."""
        clone = Schema(prefix_aliases=self._prefix_aliases)
        clone._specs = dict(self._specs)
        clone._aliases = dict(self._aliases)
        clone._groups = set(self._groups)
        clone._open_groups = dict(self._open_groups)
        return clone

    def _check_open(self) -> None:
        if self._frozen:
            raise RuntimeError("the schema is in use by a config: declare keys before building the config")

    # -- reading --------------------------------------------------------------------------------

    def canonical(self, key: str) -> str:
        """The stored form of ``key``: lower case, aliases resolved. Raises ConfigKeyError if malformed."""
        cached = self._canonical_cache.get(key) if isinstance(key, str) else None
        if cached is not None:
            return cached
        name = self._normalize(key)
        name = self._aliases.get(name) or self._resolve_prefix(name)
        if self._frozen:
            cache = self._canonical_cache
            if len(cache) >= _CANONICAL_CACHE_MAX:
                cache.clear()  # bounded whatever names callers try; the hot ones come back at once
            cache[key] = name
        return name

    def spec(self, key: str) -> KeySpec | None:
        """The declaration of ``key`` (any accepted name), or None."""
        return self._specs.get(self.canonical(key))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.spec(key) is not None

    def __iter__(self) -> Iterator[KeySpec]:
        return iter(list(self._specs.values()))

    def __len__(self) -> int:
        return len(self._specs)

    def names(self, key: str) -> tuple[str, ...]:
        """Every accepted name of a declared key: the key, its aliases, its names under old prefixes."""
        spec = self.spec(key)
        if spec is None:
            return (self.canonical(key),)
        names = [spec.key, *spec.aliases]
        for old, new in self._prefix_aliases.items():
            if spec.key.startswith(new + "."):
                names.append(old + spec.key[len(new) :])
        return tuple(names)

    def open_group(self, key: str) -> str | None:
        """The open group (:meth:`declare_open_group`) ``key`` lies under, or None."""
        name = self.canonical(key)
        return next((g for g in self._open_groups if name == g or name.startswith(g + ".")), None)

    def open_groups(self) -> dict[str, str]:
        """Every open group with its description."""
        return dict(self._open_groups)

    def live_keys(self) -> dict[str, str]:
        """Every key and open group ``config set`` accepts (:meth:`is_live`), by name, with its
        description."""
        live = {key: spec.description for key, spec in self._specs.items() if spec.live}
        return dict(sorted((live | {f"{g}.*": d for g, d in self._open_groups.items()}).items()))

    def is_declared(self, key: str) -> bool:
        """A declared key, or a key under an open group."""
        return self.spec(key) is not None or self.open_group(key) is not None

    def is_live(self, key: str) -> bool:
        """True when a change of ``key`` while the agent runs takes effect (see :class:`KeySpec`)."""
        spec = self.spec(key)
        return spec.live if spec is not None else self.open_group(key) is not None

    def runtime_refusal(self, key: str) -> RuntimeRefusal | None:
        """Why a change of ``key`` would not take effect while the agent runs, or None when it would:
        an undeclared key (its message names close matches) or a key read only at startup. Raises
        :class:`ConfigKeyError` for a malformed key."""
        spec = self.spec(key)  # one resolution of the name: this runs on every runtime write
        if spec is not None:
            declared, live = True, spec.live
        else:
            declared = live = self.open_group(key) is not None
        if not declared:
            matches = self.close_matches(key)
            hint = f": did you mean {' or '.join(matches)}?" if matches else ""
            return RuntimeRefusal(key, restart=False, message=f"unknown setting {key!r}{hint}")
        if not live:
            name = self.canonical(key)
            return RuntimeRefusal(name, restart=True, message=f"{name!r} needs a restart")
        return None

    def close_matches(self, key: str, limit: int = 3) -> list[str]:
        """Declared keys whose names are close to ``key`` (for "did you mean ...?")."""
        name = self.canonical(key)
        names = list(self._specs) + list(self._aliases)
        found = difflib.get_close_matches(name, names, n=limit, cutoff=0.75)
        if not found:  # a dotted key: compare the last names too ("registry.idle_timout")
            last = name.rsplit(".", 1)[-1]
            by_last = {k.rsplit(".", 1)[-1]: k for k in self._specs}
            found = [by_last[n] for n in difflib.get_close_matches(last, list(by_last), n=limit, cutoff=0.8)]
        return [self._aliases.get(n, n) for n in dict.fromkeys(found)]

    def is_leaf(self, key: str) -> bool:
        """True for a declared key: its value is one leaf, even a mapping."""
        return key in self._specs

    def is_secret(self, key: str) -> bool:
        """Declared secret, or a key with a credential's name (:func:`pkg.scrub.is_secret_key`)."""
        spec = self.spec(key)
        if spec is not None and spec.secret:
            return True
        return is_secret_key(self.canonical(key))

    def defaults(self) -> dict[str, Any]:
        """Every declared key with a fresh copy of its default."""
        return {key: plain_value(key, spec.default) for key, spec in self._specs.items()}

    # -- validating -----------------------------------------------------------------------------

    def validate(self, key: str, value: Any, *, origin: str | None = None, from_env: bool = False) -> Any:
        """The stored form of ``value`` for ``key``; ConfigValueError naming key, value, expected type.

        ``from_env``: the value is an environment variable's text, which may spell a list or mapping.
        """
        name = self.canonical(key)
        spec = self._specs.get(name)
        if spec is None:
            self._check_undeclared(name, value, origin)
            return plain_value(name, value, origin=origin)
        if from_env and isinstance(value, str) and spec.type in _FROM_TEXT:
            try:
                value = _FROM_TEXT[spec.type](value, spec.key, origin=origin)
            except ConfigValueError:
                raise ConfigValueError(
                    spec.key, value, _ENV_TEXT_EXPECTED[spec.type], origin=origin, secret=spec.secret
                ) from None
        try:
            return self._check(spec, value, origin=origin)
        except ConfigValueError as exc:
            if spec.secret and not exc.secret:  # declared secret under a name that does not say so
                raise ConfigValueError(spec.key, value, exc.expected, origin=origin, secret=True) from None
            raise

    def prepare(self, key: str, value: Any, *, origin: str | None = None) -> dict[str, Any]:
        """Validated leaves for setting ``key`` to ``value``: a mapping on an undeclared key is flattened."""
        name = self.canonical(key)
        if isinstance(value, Mapping) and not self.is_leaf(name):
            leaves = flatten(value, name, canonical=self.canonical, is_leaf=self.is_leaf)
        else:
            leaves = {name: value}
        return {leaf: self.validate(leaf, v, origin=origin) for leaf, v in leaves.items()}

    def _check(self, spec: KeySpec, value: Any, *, origin: str | None) -> Any:
        plain = plain_value(spec.key, value, origin=origin)
        if isinstance(plain, bool) and spec.type in (ValueType.INT, ValueType.FLOAT, ValueType.DURATION):
            raise ConfigValueError(spec.key, value, spec.expected, origin=origin)
        try:
            result = _adapter(spec.type).validate_python(plain)
        except ValueError:  # pydantic's ValidationError is a ValueError
            raise ConfigValueError(spec.key, value, spec.expected, origin=origin) from None
        if spec.choices and str(result).lower() not in {c.lower() for c in spec.choices}:
            raise ConfigValueError(spec.key, value, spec.expected, origin=origin)
        if spec.minimum is not None or spec.maximum is not None:
            number = parse_duration(result).total_seconds() if spec.type is ValueType.DURATION else result
            if (spec.minimum is not None and number < spec.minimum) or (
                spec.maximum is not None and number > spec.maximum
            ):
                raise ConfigValueError(spec.key, value, spec.expected, origin=origin)
        return result

    def _check_undeclared(self, name: str, value: Any, origin: str | None) -> None:
        """An undeclared leaf may not replace a group of declared keys, nor sit under a declared key."""
        if name in self._groups:
            raise ConfigValueError(
                name, value, f"a mapping ({name!r} groups declared settings)", origin=origin
            )
        parts = name.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent in self._specs:
                raise ConfigValueError(
                    name, value, f"no setting under {parent!r}, which is a setting itself", origin=origin
                )

    @staticmethod
    def _normalize(key: str) -> str:
        if not isinstance(key, str):
            raise ConfigKeyError(key)
        if len(key) > MAX_KEY_CHARS:
            raise ConfigKeyError(key, max_chars=MAX_KEY_CHARS)
        name = key.strip().lower()
        if not name or "" in name.split("."):
            raise ConfigKeyError(key)
        return name

    def _resolve_prefix(self, name: str) -> str:
        for old, new in self._prefix_aliases.items():
            if name == old or name.startswith(old + "."):
                return new + name[len(old) :]
        return name


def default_schema() -> Schema:
    """A fresh schema with the keys of the core agent and its config stream."""
    return Schema(
        _CORE_KEYS,
        prefix_aliases={
            "remote_agent_registry": "remote_agent.registry",
            "config_stream": "remote_agent.configstream",
        },
    )


_STREAMED = "read by remote agents from the config stream"
_FLEET_KEYS = (
    KeySpec(
        "remote_config.etcd.endpoints",
        ValueType.STRING_LIST,
        [],
        description="etcd endpoints (host:port or http(s)://host:port) of the fleet source; empty: off",
    ),
    KeySpec("remote_config.etcd.prefix", ValueType.STRING, "/datadog-agent/", description="etcd key prefix"),
    KeySpec(
        "remote_config.etcd.scopes",
        ValueType.STRING_LIST,
        [],
        description="scopes, lowest priority first; empty: global, env:<env tag>, host:<hostname>",
    ),
    KeySpec("remote_config.etcd.ca_file", ValueType.STRING, "", description="CA of etcd's TLS certificate"),
    KeySpec("remote_config.etcd.cert_file", ValueType.STRING, "", description="client certificate (mTLS)"),
    KeySpec("remote_config.etcd.key_file", ValueType.STRING, "", description="client key (mTLS)"),
    KeySpec("remote_config.etcd.username", ValueType.STRING, "", description="etcd user"),
    KeySpec("remote_config.etcd.password", ValueType.STRING, "", secret=True, description="etcd password"),
    KeySpec(
        "remote_config.etcd.cache_file",
        ValueType.STRING,
        "",
        description="last fleet values, for starts while etcd is down; '': fleet-cache.json beside the token",
    ),
    KeySpec("remote_config.etcd.request_timeout", ValueType.DURATION, "5s", minimum=0.001),
    KeySpec(
        "remote_config.etcd.startup_timeout",
        ValueType.DURATION,
        "3s",
        minimum=0,
        description="how long startup waits for the first read of etcd before going on with the cache",
    ),
    KeySpec("remote_config.etcd.reconnect_initial_delay", ValueType.DURATION, "200ms", minimum=0.001),
    KeySpec("remote_config.etcd.reconnect_max_delay", ValueType.DURATION, "30s", minimum=0.001),
)

_CORE_KEYS = (
    KeySpec(keys.CMD_HOST, ValueType.STRING, "localhost", description="IPC gRPC listen host"),
    KeySpec(
        keys.CMD_PORT,
        ValueType.INT,
        5001,
        minimum=0,
        maximum=65535,
        description="IPC gRPC listen port (0: any free)",
    ),
    KeySpec(
        keys.CMD_SHUTDOWN_GRACE, ValueType.DURATION, "3s", minimum=0, description="IPC server stop grace"
    ),
    KeySpec(
        keys.AUTH_TOKEN_FILE_PATH, ValueType.STRING, "", description="bearer token file; '': beside config"
    ),
    KeySpec(keys.IPC_CERT_FILE_PATH, ValueType.STRING, "", description="mTLS cert+key; '': beside the token"),
    KeySpec(keys.REGISTRY_ENABLED, ValueType.BOOL, True, description="remote agent registry on"),
    KeySpec(
        keys.REGISTRY_IDLE_TIMEOUT,
        ValueType.DURATION,
        "30s",
        minimum=0.001,
        live=True,
        description="a remote agent not refreshed for this long is evicted",
    ),
    KeySpec(
        keys.REGISTRY_REFRESH_INTERVAL,
        ValueType.DURATION,
        "10s",
        minimum=0.001,
        maximum=2**32 - 1,
        live=True,
        description="refresh interval told to remote agents when they register (whole seconds, at least 1)",
    ),
    KeySpec(
        keys.REGISTRY_QUERY_TIMEOUT,
        ValueType.DURATION,
        "3s",
        minimum=0.001,
        live=True,
        description="deadline of one status, flare or telemetry fan-out to remote agents",
    ),
    KeySpec(
        keys.CONFIGSTREAM_SLEEP_INTERVAL,
        ValueType.DURATION,
        "10ms",
        minimum=0,
        description="pause after a non-terminal send error",
    ),
    KeySpec(
        keys.CONFIGSTREAM_HISTORY_SIZE,
        ValueType.INT,
        10000,
        minimum=0,
        description="recent updates kept for catch-up and resume",
    ),
    KeySpec(
        keys.CONFIGSTREAM_QUEUE_SIZE,
        ValueType.INT,
        1000,
        minimum=1,
        description="events queued per subscriber before it is marked lagging",
    ),
    KeySpec(
        keys.CONFIGSTREAM_HISTORY_MAX_BYTES,
        ValueType.INT,
        32 * 1024 * 1024,
        minimum=0,
        description="serialized bytes of recent updates kept for catch-up and resume",
    ),
    KeySpec(
        keys.CONFIGSTREAM_QUEUE_MAX_BYTES,
        ValueType.INT,
        8 * 1024 * 1024,
        minimum=1,
        description="serialized bytes queued per subscriber before it is marked lagging",
    ),
    KeySpec(
        keys.CONFIGSTREAM_BATCH_MAX_UPDATES,
        ValueType.INT,
        256,
        minimum=1,
        maximum=65536,
        description="most updates in one batch, for clients that accept batches",
    ),
    KeySpec(
        keys.CONFIGSTREAM_PROGRESS_INTERVAL,
        ValueType.DURATION,
        "10s",
        minimum=0.01,
        maximum=3600,
        description="idle time before a progress event, jittered by 20%, for clients that accept them",
    ),
    KeySpec(
        keys.GRPC_MAX_MESSAGE_SIZE,
        ValueType.INT,
        4 * 1024 * 1024,
        minimum=64 * 1024,
        maximum=2**31 - 1,
        description="largest gRPC message the core sends or its clients accept, in bytes",
    ),
    KeySpec(
        keys.VALUE_MAX_BYTES,
        ValueType.INT,
        1024 * 1024,
        minimum=1024,
        description="largest serialized value of one setting, in bytes",
    ),
    KeySpec(
        keys.TOTAL_MAX_BYTES,
        ValueType.INT,
        3 * 1024 * 1024,
        minimum=4096,
        description="largest serialized snapshot of every setting, in bytes",
    ),
    KeySpec(keys.LOG_LEVEL, ValueType.STRING, "info", choices=LOG_LEVELS, live=True, description="log level"),
    KeySpec(keys.LOG_FILE, ValueType.STRING, "", live=True, description="log file path; '': no file"),
    KeySpec(
        keys.LOG_FILE_MAX_SIZE,
        ValueType.SIZE,
        10 * 1024 * 1024,
        minimum=1024,
        live=True,
        description="size at which the log file is rolled (10MB, 512KB, or bytes)",
    ),
    KeySpec(
        keys.LOG_FILE_MAX_ROLLS,
        ValueType.INT,
        1,
        minimum=0,
        maximum=100,
        live=True,
        description="rolled log files kept (log_file.1, ...); 0: the file is truncated instead",
    ),
    KeySpec(keys.LOG_TO_CONSOLE, ValueType.BOOL, True, live=True, description="log to stderr"),
    KeySpec(
        keys.LOG_FORMAT_JSON, ValueType.BOOL, False, live=True, description="log one JSON object per line"
    ),
    KeySpec(keys.API_KEY, ValueType.STRING, "", secret=True, live=True, description=_STREAMED),
    KeySpec(keys.SITE, ValueType.STRING, "datadoghq.com", live=True, description=_STREAMED),
    KeySpec(keys.HOSTNAME, ValueType.STRING, "", live=True, description=_STREAMED),
    KeySpec(keys.TAGS, ValueType.STRING_LIST, [], live=True, description=_STREAMED),
    KeySpec(keys.LOGS_CONFIG_ENABLED, ValueType.BOOL, False, live=True, description=_STREAMED),
    KeySpec(keys.TELEMETRY_ENABLED, ValueType.BOOL, True, description="Prometheus /metrics on loopback"),
    KeySpec(keys.TELEMETRY_PORT, ValueType.INT, 5000, minimum=0, maximum=65535, description="/metrics port"),
    *_FLEET_KEYS,
)

_CORE_SPECS = {spec.key: spec for spec in _CORE_KEYS}


def declared_default(key: str) -> Any:
    """The default of a core key (a name of :mod:`pkg.config.keys`) as declared, for readers that
    work without a config (command-line clients). Raises KeyError for any other key."""
    return _CORE_SPECS[key].default


def declared_spec(key: str) -> KeySpec:
    """The declaration of a core key (a name of :mod:`pkg.config.keys`): its type, default and
    bounds, for readers that check a value without a config. Raises KeyError for any other key."""
    return _CORE_SPECS[key]
