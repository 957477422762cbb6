"""Where the agent's files are: the embedded default config and the state directory.

The server and the command-line client resolve these the same way (the rules are
:mod:`pkg.ipc.locate`'s), so ``core-agent config ...`` finds the agent that ``core-agent run``
started with the same ``-c``/``--state-dir``:

- ``-c FILE``: settings come from FILE (and ``DD_*`` variables); the auth token defaults to
  ``auth_token`` beside FILE and the certificate to ``ipc_cert.pem`` beside the token.
- no ``-c``: the embedded ``datadog.yaml`` shipped with the package, and the state directory holds
  the token and the certificate.
- ``--state-dir DIR`` (with or without ``-c``): the token and the certificate live in DIR, whatever
  the config says. Default directory: ``$XDG_STATE_HOME/core-agent``, else
  ``~/.local/state/core-agent``.

This module stays light (no grpc, no config model): the client imports it on every call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pkg.ipc.locate import secrets_state_dir
from pkg.ipc.paths import resolve_ipc_file_paths

__all__ = ["EMBEDDED_CONFIG", "Locations", "resolve_locations"]

EMBEDDED_CONFIG = Path(__file__).with_name("datadog.yaml")


@dataclass(frozen=True)
class Locations:
    """The config file to load and, when the state directory holds the secrets, that directory."""

    config_file: Path
    embedded: bool
    state_dir: Path | None

    def secret_overrides(self) -> dict[str, str]:
        """Settings (source ``cli``) that put the token and the certificate in the state directory."""
        if self.state_dir is None:
            return {}
        files = resolve_ipc_file_paths(state_dir=self.state_dir)
        return {"auth_token_file_path": str(files.auth_token), "ipc_cert_file_path": str(files.ipc_cert)}


def resolve_locations(
    config_file: Path | None, state_dir: Path | None, environ: Mapping[str, str] | None = None
) -> Locations:
    """Apply the rules of the module docstring to the ``-c`` and ``--state-dir`` flags."""
    secrets_dir = secrets_state_dir(config_file, state_dir, os.environ if environ is None else environ)
    if config_file is None:
        return Locations(EMBEDDED_CONFIG, True, secrets_dir)
    return Locations(config_file.absolute(), False, secrets_dir)
