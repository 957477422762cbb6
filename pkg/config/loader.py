"""Building the core agent's config: declared defaults, the YAML file, ``DD_*`` variables, the CLI.

Usage::

    config = build_config(default_schema(), Path("/etc/datadog-agent/datadog.yaml"), os.environ,
                          {"log_level": "debug"})

Errors name what was wrong: :class:`ConfigFileError` for a file that cannot be read or parsed (with
the line where YAML says), or that is over a limit (:data:`~pkg.config.limits.CONFIG_FILE_MAX_BYTES`,
YAML nesting and alias expansion: :mod:`pkg.config.safe_yaml`), or that holds both ``x`` and ``x.y``;
:class:`ConfigValueError` for a value of the wrong type, whose ``origin`` names the file and line, or
the environment variable; :class:`ConfigLimitError` for a value or a config over a size limit, or
limits that do not fit together (:mod:`pkg.config.limits`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from pkg.config.errors import ConfigError, ConfigFileError, ConfigKeyError
from pkg.config.limits import CONFIG_FILE_MAX_BYTES, RESTART_KEYS, ConfigLimits
from pkg.config.model import LayeredConfig
from pkg.config.safe_yaml import YamlLimitError, load_document
from pkg.config.schema import Schema, default_schema
from pkg.config.sources import Source
from pkg.config.tree import find_nesting, join_key

__all__ = [
    "ENV_PREFIX",
    "build_config",
    "env_var_name",
    "environment_left_out",
    "read_environment",
    "read_yaml_file",
]

ENV_PREFIX = "DD_"


def build_config(
    schema: Schema | None = None,
    config_file: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> LayeredConfig:
    """A config with the schema's defaults, then the file (source ``file``), the environment
    (``environment-variable``) and the overrides (``cli``). Nothing is read from ``os.environ`` unless
    it is passed. The size limits are those these sources give; the config is sealed (see
    :meth:`LayeredConfig.seal_startup_settings`). Raises ConfigFileError, ConfigValueError or
    ConfigLimitError; no half-built config escapes.
    """
    schema = schema if schema is not None else default_schema()
    path = Path(config_file) if config_file is not None else None
    file_settings = read_yaml_file(path, schema) if path is not None else {}
    env_settings = read_environment(environ, schema, file_settings) if environ is not None else {}
    cli_settings: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        cli_settings.update(schema.prepare(key, value, origin="command line"))
    limits = startup_limits(schema, file_settings, env_settings, cli_settings)
    config = LayeredConfig(schema, config_file=path, limits=limits)
    config.set_many(file_settings, Source.FILE)
    declared_env = {key: value for key, value in env_settings.items() if schema.is_declared(key)}
    config.set_many(declared_env, Source.ENVIRONMENT_VARIABLE)
    for key, text in env_settings.items():
        if key not in declared_env:  # a stray variable over a size limit is left out, not fatal
            with contextlib.suppress(ConfigError):
                config.set(key, text, Source.ENVIRONMENT_VARIABLE)
    config.set_many(cli_settings, Source.CLI)
    config.seal_startup_settings()
    return config


def startup_limits(schema: Schema, *layers: Mapping[str, Any]) -> ConfigLimits:
    """The limits of the schema's defaults overridden by ``layers`` (validated leaves, lowest
    priority first). Raises ConfigLimitError when they do not fit together."""
    defaults = LayeredConfig.default_limits(schema)
    settings: dict[str, Any] = {key: defaults.in_force(key) for key in RESTART_KEYS}
    for layer in layers:
        for key in RESTART_KEYS:
            value = layer.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                settings[key] = value
    return ConfigLimits.from_settings(settings)


def env_var_name(key: str) -> str:
    """``DD_`` + the key in upper case with dots as underscores (``log_level`` -> ``DD_LOG_LEVEL``)."""
    return ENV_PREFIX + key.upper().replace(".", "_")


def read_environment(
    environ: Mapping[str, str], schema: Schema, file_settings: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Validated values of declared keys from ``DD_*`` variables (canonical name first, then aliases),
    and the text of every other ``DD_*`` variable as the undeclared key its name spells in lower
    case (``DD_MY_SETTING`` -> ``my_setting``: a variable's name has no dots, so such a key is never
    nested), kept and streamed as an undeclared file key is.

    Empty variables are ignored, as the Go agent does. An undeclared variable whose key would clash
    with declared ones (``DD_LOGS_CONFIG``: a group of declared keys) is left out, and so is one that
    would turn a group of ``file_settings`` into a value (:func:`build_config` also leaves out one
    over a size limit; :func:`environment_left_out` names them all).
    """
    settings: dict[str, Any] = {}
    declared_vars: set[str] = set()
    for spec in schema:
        for name in schema.names(spec.key):
            declared_vars.add(env_var_name(name))
    for spec in schema:
        for name in schema.names(spec.key):
            var = env_var_name(name)
            text = environ.get(var)
            if text is None or text == "":
                continue
            origin = f"environment variable {var}"
            settings[spec.key] = schema.validate(spec.key, text, origin=origin, from_env=True)
            break
    file_groups = {held.split(".", 1)[0] for held in file_settings or {} if "." in held}
    for var, text in sorted(environ.items()):
        key = _undeclared_env_key(var, text, declared_vars, schema)
        if key is not None and key not in file_groups:  # an undeclared key has no dot
            settings[key] = text
    return settings


def environment_left_out(environ: Mapping[str, str], schema: Schema, held: Mapping[str, Any]) -> list[str]:
    """The non-empty ``DD_*`` variables that are neither a declared key's nor among ``held`` (the
    settings a config holds at source ``environment-variable``): not a key name, a clash with declared
    keys or the file's groups, or over a size limit."""
    declared_vars = {env_var_name(name) for spec in schema for name in schema.names(spec.key)}
    return sorted(
        var
        for var, text in environ.items()
        if var.startswith(ENV_PREFIX)
        and text != ""
        and var not in declared_vars
        and var[len(ENV_PREFIX) :].lower() not in held
    )


def _undeclared_env_key(var: str, text: str, declared_vars: set[str], schema: Schema) -> str | None:
    if not var.startswith(ENV_PREFIX) or text == "" or var in declared_vars:
        return None
    name = var[len(ENV_PREFIX) :].lower()
    try:
        key = schema.canonical(name)
        if schema.is_declared(key):
            return None
        schema.validate(key, text, origin=f"environment variable {var}")
    except ConfigError:  # not a key name, or a clash with declared keys
        return None
    return key


def read_yaml_file(path: Path, schema: Schema, *, max_bytes: int = CONFIG_FILE_MAX_BYTES) -> dict[str, Any]:
    """Validated leaves of a YAML config file (canonical keys). Null values are skipped.

    A file bigger than ``max_bytes`` is refused before it is read whole.
    """
    try:
        with path.open("rb") as stream:
            raw = stream.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigFileError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if len(raw) > max_bytes:
        raise ConfigFileError(str(path), f"bigger than {max_bytes} bytes, the limit of a config file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    data, lines = _parse_yaml(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"the value {data!r}"
        raise ConfigFileError(
            str(path), f"top level must be a mapping of settings, not {kind}", line=lines.get("")
        )
    settings: dict[str, Any] = {}
    raw_keys: dict[str, str] = {}
    for raw_key, value in _leaves(data, "", schema, path, lines):
        if value is None:
            continue
        line = lines.get(raw_key)
        origin = f"{path}:{line}" if line is not None else str(path)
        key = schema.canonical(raw_key)
        settings[key] = schema.validate(key, value, origin=origin)
        raw_keys[key] = raw_key
    nested = find_nesting(settings)
    if nested is not None:
        leaf, deeper = nested
        raise ConfigFileError(
            str(path),
            f"{raw_keys[deeper]!r} lies under {raw_keys[leaf]!r} (line {lines.get(raw_keys[leaf], '?')}), "
            "which holds a value: a key cannot be both a setting and a group of settings",
            line=lines.get(raw_keys[deeper]),
        )
    return settings


def _leaves(
    value: Mapping[Any, Any], prefix: str, schema: Schema, path: Path, lines: dict[str, int]
) -> list[tuple[str, Any]]:
    """(dotted key as written, lower-cased; value) of every leaf. Raises ConfigFileError on a bad key."""
    out: list[tuple[str, Any]] = []
    for name, child in value.items():
        raw = join_key(prefix, str(name).lower())
        try:
            key = schema.canonical(raw)
        except ConfigKeyError:
            line = lines.get(raw, lines.get(prefix))
            raise ConfigFileError(str(path), f"invalid key {raw!r}", line=line) from None
        if isinstance(child, Mapping) and not schema.is_leaf(key):
            out.extend(_leaves(child, raw, schema, path, lines))
        else:
            out.append((raw, child))
    return out


def _parse_yaml(text: str, where: str) -> tuple[Any, dict[str, int]]:
    """The document and the 1-based line of each mapping key path (lower-cased, dotted)."""
    try:
        data, node = load_document(text)
    except YamlLimitError as exc:
        raise ConfigFileError(where, exc.reason, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = f"invalid YAML: {exc.problem or exc.context or exc}"
        raise ConfigFileError(where, reason, line=None if mark is None else mark.line + 1) from exc
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        reason = f"invalid YAML: unacceptable character #x{exc.character:04x}"
        raise ConfigFileError(where, reason, line=line) from exc
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error of str input is one of the above
        raise ConfigFileError(where, f"invalid YAML: {exc}") from exc
    except ValueError as exc:  # a tag that cannot build its value ("!!int x")
        raise ConfigFileError(where, f"invalid YAML: {exc}") from exc
    if node is None:
        return None, {}
    lines = {"": node.start_mark.line + 1}
    _record_lines(node, "", lines)
    return data, lines


def _record_lines(node: yaml.Node, prefix: str, lines: dict[str, int]) -> None:
    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        path = join_key(prefix, str(key_node.value).lower())
        lines.setdefault(path, key_node.start_mark.line + 1)
        _record_lines(value_node, path, lines)
