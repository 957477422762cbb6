"""Settings for the whole test session."""

from __future__ import annotations

import os

# grpc's C core logs transport details (GOAWAY, ...) at INFO unless told otherwise; read at import.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

# Real etcd servers (fixtures ``etcd`` and ``etcd_cluster``).
pytest_plugins = ["tests.etcd_server"]
