"""The IPC component: resolves where the auth token and certificate live when built, creates them
(first start) or loads them in its start hook (:mod:`.secrets`).

Its hook is the first file I/O of the core agent's start, before any port opens: the binary's root
declares IPC before the components that listen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from comp.core.config import def_ as config_def
from comp.core.ipc.def_ import Component, IpcPaths, Params
from comp.core.ipc.impl.secrets import IpcSecrets
from pkg.config import keys
from pkg.ipc import resolve_ipc_file_paths
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = ["Provides", "Requires", "new_component"]


@dataclass(frozen=True)
class Requires:
    lifecycle: Lifecycle
    config: config_def.Component
    params: Params = field(default_factory=Params)


@dataclass(frozen=True)
class Provides:
    comp: Component


def new_component(requires: Requires) -> Provides:
    """Resolve the paths; the start hook creates or loads both files (a problem aborts startup).

    Raises pkg.ipc.IpcError when nothing locates the auth token; the hook raises IpcError (or a
    subclass) naming the file and the fix.
    """
    config = requires.config
    files = resolve_ipc_file_paths(
        config.get_string(keys.AUTH_TOKEN_FILE_PATH),
        config.get_string(keys.IPC_CERT_FILE_PATH),
        config_file=config.config_file_used(),
        state_dir=requires.params.state_dir,
    )
    secrets = IpcSecrets(IpcPaths(auth_token=files.auth_token, ipc_cert=files.ipc_cert))
    requires.lifecycle.append(Hook("ipc", on_start=secrets.start))
    return Provides(comp=secrets)
