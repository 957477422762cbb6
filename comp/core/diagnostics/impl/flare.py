"""What a flare holds, and the masking of every text in it and of the remote agents' status.

Masking: the config file is the settings component's masked view; then every text of the flare, the
remote agents' files included, goes through :func:`pkg.scrub.scrub_text` with the raw values of the
core's secret settings (:func:`known_secrets`, :func:`masker`). The remote agents' status sections
are scrubbed the same way when the core assembles them (:func:`scrub_section`), so that ``status``,
``status --json`` and the flare show them masked alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import yaml

from comp.core.config import def_ as config_def
from comp.core.remoteagentregistry import def_ as registry_def
from comp.core.settings import def_ as settings_def
from pkg.remoteagent.names import sanitize_file_name, sanitize_name
from pkg.remoteagent.statusformat import format_remote_agents
from pkg.scrub import MASK, MIN_KNOWN_SECRET_LENGTH, is_secret_key, mask, scrub_text

__all__ = [
    "CORE_DIR",
    "MASK",
    "known_secrets",
    "masker",
    "remote_agent_files",
    "scrub_section",
    "settings_yaml",
]

_log = logging.getLogger(__name__)

CORE_DIR = "core"


def known_secrets(config: config_def.Component, settings: settings_def.Component) -> list[str]:
    """The raw values of the secret settings (as the settings component marks them) that text
    scrubbing replaces wherever they appear, longest first (a secret inside another one)."""
    views, _ = settings.list()
    known = set()
    for view in views:
        if view.masked:
            raw = config.get(view.key)
            if isinstance(raw, str) and len(raw) >= MIN_KNOWN_SECRET_LENGTH:
                known.add(raw)
    return sorted(known, key=len, reverse=True)


def scrub_section(fields: Mapping[str, str], known: Sequence[str]) -> dict[str, str]:
    """A remote agent's status section as the core shows it: the value of a field whose name is a
    credential's (``password``, ``API key``: :func:`pkg.scrub.is_secret_key`, spaces read as ``_``)
    masked as a setting of that name is (:func:`pkg.scrub.mask`); every other value, and every name,
    through :func:`pkg.scrub.scrub_text` with the ``known`` secret values."""
    shown: dict[str, str] = {}
    for name, value in fields.items():
        key = name.strip().replace(" ", "_")
        shown[scrub_text(name, known)] = mask(value, key) if is_secret_key(key) else scrub_text(value, known)
    return shown


def masker(config: config_def.Component, settings: settings_def.Component) -> Callable[[bytes], bytes]:
    """Scrubs a flare file with :func:`pkg.scrub.scrub_text`, knowing the raw value of every secret
    setting (:func:`known_secrets`). Text that is not UTF-8 has the known values replaced byte for
    byte."""
    ordered = known_secrets(config, settings)

    def scrub_file(content: bytes) -> bytes:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            for secret in ordered:
                content = content.replace(secret.encode(), MASK.encode())
            return content
        return scrub_text(text, ordered).encode("utf-8")

    return scrub_file


def settings_yaml(settings: settings_def.Component) -> bytes:
    """Every effective setting with its source, masked by the settings component."""
    views, sequence_id = settings.list()
    document = {
        "sequence_id": sequence_id,
        "settings": {v.key: {"value": v.value, "source": v.source} for v in views},
    }
    return yaml.safe_dump(document, sort_keys=True, allow_unicode=True).encode()


def status_files(core: Mapping[str, Any], remote: Sequence[Mapping[str, Any]]) -> dict[str, bytes]:
    """``status.json`` and ``status.txt`` of the core and its remote agents."""
    document = {"core": dict(core), "remote_agents": list(remote)}
    lines = ["Core Agent", "=========="]
    lines.extend(f"  {key}: {core[key]}" for key in sorted(core) if key != "remote_agents")
    text = "\n".join(lines) + "\n\n" + format_remote_agents(remote)
    return {
        "status.json": json.dumps(document, indent=2, sort_keys=True, default=str).encode(),
        "status.txt": text.encode(),
    }


def remote_agent_files(results: Sequence[registry_def.QueryResult[dict[str, bytes]]]) -> dict[str, bytes]:
    """Each agent's files under ``<sanitized display name>/`` (a second agent of the same name gets
    ``-2``...), file names sanitized; ``UNREACHABLE.txt`` saying why for an agent that did not answer."""
    files: dict[str, bytes] = {}
    used: set[str] = {CORE_DIR}
    for result in sorted(results, key=lambda r: (r.agent.display_name, r.agent.session_id)):
        base = sanitize_name(result.agent.display_name)
        directory, n = base, 1
        while directory in used:
            n += 1
            directory = f"{base}-{n}"
        used.add(directory)
        if result.response is None:
            files[f"{directory}/UNREACHABLE.txt"] = (
                f"remote agent {result.agent.display_name!r} (flavor {result.agent.flavor}, "
                f"pid {result.agent.pid}) at {result.agent.api_endpoint_uri or '(no endpoint)'} "
                f"could not be queried: {result.error}\n"
            ).encode()
            continue
        for name, content in sorted(result.response.items()):
            safe = sanitize_file_name(name)
            path = f"{directory}/{safe}"
            while path in files:
                safe = "_" + safe
                path = f"{directory}/{safe[:255]}"
            files[path] = content
    return files
