"""``core-agent fleet list|get|set|unset``: read and change the fleet configuration in etcd.

The etcd endpoints, prefix, TLS and credentials are the agent's own (``remote_config.etcd.*`` from
``-c FILE`` or the embedded config, and ``DD_*`` variables). Values are YAML text, checked against the
schema before anything is written. A write to a key that exists must name the revision it replaces
(``--revision N``, shown by ``list`` and ``get``) or say ``--force``: the write is an etcd
transaction that compares the key's revision, so two operators never silently overwrite each other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["add_fleet_parser"]

PROG = "core-agent fleet"


class FleetCommandError(Exception):
    """A failure to report on stderr as one line."""


def add_fleet_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
    group_parents: list[argparse.ArgumentParser],
) -> None:
    """Add ``fleet`` and its actions to ``commands``; ``parents`` of each action and
    ``group_parents`` of ``fleet`` itself: ``-c``, ``--state-dir``, ``--timeout`` (given before or
    after the action)."""
    fleet = commands.add_parser(
        "fleet",
        parents=group_parents,
        help="read or change the fleet configuration in etcd",
        description="Read or change the fleet configuration in etcd (remote_config.etcd.*): keys "
        "<prefix><scope>/<key>, YAML values, scopes such as global, env:prod, host:web-1.",
    )
    actions = fleet.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, parents=parents, help=help_text, description=help_text)
        parser.set_defaults(handler=run_fleet_command, fleet_action=name)
        return parser

    listing = action("list", "print every fleet value (of one scope with --scope) with its revision")
    listing.add_argument("--scope", help="only this scope")
    get = action("get", "print KEY in every scope that holds it (or in --scope)")
    get.add_argument("key", metavar="KEY")
    get.add_argument("--scope", help="only this scope")
    for name, text in (
        ("set", "set KEY to VALUE (YAML) at a scope; validated against the schema first"),
        ("unset", "remove KEY from a scope"),
    ):
        parser = action(name, text)
        parser.add_argument("key", metavar="KEY")
        if name == "set":
            parser.add_argument("value", metavar="VALUE")
        parser.add_argument("--scope", default="global", help="the scope to write (default: global)")
        guard = parser.add_mutually_exclusive_group()
        guard.add_argument(
            "--revision",
            type=int,
            metavar="N",
            help="write only if the key is still at revision N (0: absent)",
        )
        guard.add_argument("--force", action="store_true", help="write whatever the key holds now")


def run_fleet_command(args: argparse.Namespace) -> int:
    """Run the action; 0 on success, 1 with one line on stderr on failure."""
    try:
        out = asyncio.run(_run(args))
    except FleetCommandError as exc:
        sys.stderr.write(f"{PROG} {args.fleet_action}: {exc}\n")
        return 1
    sys.stdout.write(out)
    return 0


async def _run(args: argparse.Namespace) -> str:
    from comp.core.fleet.impl import etcd_options, fleet_scopes
    from core_agent.locations import EMBEDDED_CONFIG
    from pkg.config.errors import ConfigError
    from pkg.config.loader import build_config
    from pkg.etcd import EtcdClient, EtcdError
    from pkg.fleet import FleetKeyError

    try:
        config = build_config(config_file=args.config or EMBEDDED_CONFIG, environ=os.environ)
    except ConfigError as exc:
        raise FleetCommandError(str(exc)) from None
    options = etcd_options(config)
    if not options.endpoints:
        raise FleetCommandError("no etcd endpoints: set remote_config.etcd.endpoints (or its DD_ variable)")
    from dataclasses import replace

    options = replace(options, timeout=args.timeout)
    prefix = config.get_string("remote_config.etcd.prefix")
    client = EtcdClient(options)
    try:
        commands: dict[str, Callable[[], Any]] = {
            "list": lambda: _list(client, prefix, args.scope, config.is_secret),
            "get": lambda: _get(client, prefix, args, config, fleet_scopes(config)),
            "set": lambda: _set(client, prefix, args, config),
            "unset": lambda: _unset(client, prefix, args, config.is_secret),
        }
        result: str = await commands[args.fleet_action]()
        return result
    except (EtcdError, FleetKeyError) as exc:
        raise FleetCommandError(str(exc)) from None
    finally:
        await client.close()


def _text(kv: Any) -> str:
    return bytes(kv.value).decode("utf-8", errors="replace")


def _show(key: str, text: str, is_secret: Callable[[str], bool]) -> str:
    from pkg.scrub.values import scrub_setting

    return str(scrub_setting(key, text.rstrip("\n"), secret=is_secret(key))[0])


async def _list(client: Any, prefix: str, scope: str | None, is_secret: Callable[[str], bool]) -> str:
    from pkg.fleet import parse_key, scope_prefix

    kvs, revision = await client.range_prefix(scope_prefix(prefix, scope) if scope else prefix)
    lines = []
    for kv in kvs:
        parsed = parse_key(prefix, kv.key)
        if parsed is None:
            continue
        text = kv.value.decode("utf-8", errors="replace")
        lines.append(
            f"{parsed[0]}  {parsed[1]} = {_show(parsed[1], text, is_secret)}  (revision {kv.mod_revision})"
        )
    lines.append(f"# {len(lines)} values at etcd revision {revision}")
    return "\n".join(lines) + "\n"


async def _get(
    client: Any, prefix: str, args: argparse.Namespace, config: Any, scopes: tuple[str, ...]
) -> str:
    from pkg.fleet import parse_key

    kvs, _ = await client.range_prefix(prefix)
    found = {}
    for kv in kvs:
        parsed = parse_key(prefix, kv.key)
        if parsed is not None and parsed[1] == args.key and (args.scope is None or parsed[0] == args.scope):
            found[parsed[0]] = kv
    if not found:
        where = f"scope {args.scope}" if args.scope else "any scope"
        raise FleetCommandError(f"{args.key} is not set in {where}")
    winner = next((s for s in reversed(scopes) if s in found), None)
    lines = []
    for scope, kv in sorted(found.items()):
        text = _show(args.key, kv.value.decode("utf-8", errors="replace"), config.is_secret)
        mark = "  (effective on this host)" if scope == winner else ""
        lines.append(f"{scope}: {text}  (revision {kv.mod_revision}){mark}")
    return "\n".join(lines) + "\n"


def validated_text(key: str, text: str, config: Any) -> str:
    """The text to store for ``key``: ``text`` when its YAML value fits the key, a quoted YAML string
    when only the text itself does (``'123'`` for a string key). Raises FleetCommandError naming
    key, value and what is expected."""
    import yaml

    from pkg.config.errors import ConfigError
    from pkg.config.safe_yaml import load_value

    try:
        refusal = config.schema.runtime_refusal(key)
    except ConfigError as exc:  # a malformed key
        raise FleetCommandError(str(exc)) from None
    if refusal is not None and refusal.restart:
        raise FleetCommandError(
            f"{refusal.message}: agents apply from the fleet only the keys they apply while running "
            "(core-agent config list-runtime)"
        )
    if refusal is not None:
        raise FleetCommandError(refusal.message)
    limit = config.limits.value_max_bytes
    if len(text.encode("utf-8", errors="surrogatepass")) > limit:
        raise FleetCommandError(f"value of {key} is over config_limits.value_max_bytes ({limit} bytes)")
    try:
        value = load_value(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise FleetCommandError(f"value of {key} is not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        config.schema.validate(key, value, origin="fleet")
        return text
    except ConfigError as exc:
        if not isinstance(value, str):
            try:
                config.schema.validate(key, text, origin="fleet")
            except ConfigError:
                raise FleetCommandError(str(exc)) from None
            return yaml.safe_dump(text, default_style="'").strip()
        raise FleetCommandError(str(exc)) from None


def _expected(args: argparse.Namespace) -> int | None:
    if args.force:
        return None
    return 0 if args.revision is None else int(args.revision)


def _conflict(
    key: str, scope: str, args: argparse.Namespace, current: Any, is_secret: Callable[[str], bool]
) -> str:
    if current is None:
        return f"{key} at scope {scope} is not set (not at revision {args.revision}); nothing written"
    shown = _show(key, current.value.decode("utf-8", errors="replace"), is_secret)
    if args.revision is None:
        return (
            f"{key} at scope {scope} already holds {shown!r} (revision {current.mod_revision}); "
            f"pass --revision {current.mod_revision} to replace it, or --force"
        )
    return (
        f"{key} at scope {scope} changed since revision {args.revision}: it holds {shown!r} "
        f"(revision {current.mod_revision}); nothing written"
    )


async def _set(client: Any, prefix: str, args: argparse.Namespace, config: Any) -> str:
    from pkg.fleet import storage_key

    key = config.schema.canonical(args.key)
    text = validated_text(key, args.value, config)
    result = await client.put(
        storage_key(prefix, args.scope, key), text.encode(), expected_revision=_expected(args)
    )
    if not result.succeeded:
        raise FleetCommandError(_conflict(key, args.scope, args, result.current, config.is_secret))
    return (
        f"{key} = {_show(key, text, config.is_secret)} at scope {args.scope} (revision {result.revision})\n"
    )


async def _unset(client: Any, prefix: str, args: argparse.Namespace, is_secret: Callable[[str], bool]) -> str:
    from pkg.fleet import storage_key

    raw = storage_key(prefix, args.scope, args.key)
    expected = _expected(args)
    if expected == 0:  # no --revision: the key's revision must be named, as for set
        current, _ = await client.get(raw)
        if current is None:
            raise FleetCommandError(f"{args.key} is not set at scope {args.scope}")
        shown = _show(args.key, _text(current), is_secret)
        rev = current.mod_revision
        raise FleetCommandError(
            f"{args.key} at scope {args.scope} holds {shown!r} (revision {rev}); "
            f"pass --revision {rev} to remove it, or --force"
        )
    result = await client.delete(raw, expected_revision=expected)
    if not result.succeeded:
        raise FleetCommandError(_conflict(args.key, args.scope, args, result.current, is_secret))
    return f"{args.key} removed from scope {args.scope} (revision {result.revision})\n"
