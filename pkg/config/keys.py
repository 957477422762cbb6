"""Names of the core agent's config keys, one constant each.

The declarations (type, default, bounds, secrecy, description) are in :mod:`pkg.config.schema`, which
uses these names; components and clients import a name from here rather than spelling it again, and
read the typed value from the config (the schema guarantees its type and bounds).

Light to import (nothing but the standard library): command-line clients use it on every call.
"""

from __future__ import annotations

__all__ = [
    "API_KEY",
    "AUTH_TOKEN_FILE_PATH",
    "CMD_HOST",
    "CMD_PORT",
    "CMD_SHUTDOWN_GRACE",
    "CONFIGSTREAM_BATCH_MAX_UPDATES",
    "CONFIGSTREAM_HISTORY_MAX_BYTES",
    "CONFIGSTREAM_HISTORY_SIZE",
    "CONFIGSTREAM_PROGRESS_INTERVAL",
    "CONFIGSTREAM_QUEUE_MAX_BYTES",
    "CONFIGSTREAM_QUEUE_SIZE",
    "CONFIGSTREAM_SLEEP_INTERVAL",
    "GRPC_MAX_MESSAGE_SIZE",
    "HOSTNAME",
    "IPC_CERT_FILE_PATH",
    "LOGS_CONFIG_ENABLED",
    "LOG_FILE",
    "LOG_FILE_MAX_ROLLS",
    "LOG_FILE_MAX_SIZE",
    "LOG_FORMAT_JSON",
    "LOG_LEVEL",
    "LOG_TO_CONSOLE",
    "REGISTRY_ENABLED",
    "REGISTRY_IDLE_TIMEOUT",
    "REGISTRY_QUERY_TIMEOUT",
    "REGISTRY_REFRESH_INTERVAL",
    "SITE",
    "TAGS",
    "TELEMETRY_ENABLED",
    "TELEMETRY_PORT",
    "TOTAL_MAX_BYTES",
    "VALUE_MAX_BYTES",
]

# IPC server and its secrets
CMD_HOST = "cmd_host"
CMD_PORT = "cmd_port"
CMD_SHUTDOWN_GRACE = "cmd_shutdown_grace"
AUTH_TOKEN_FILE_PATH = "auth_token_file_path"
IPC_CERT_FILE_PATH = "ipc_cert_file_path"
GRPC_MAX_MESSAGE_SIZE = "agent_ipc.grpc_max_message_size"

# remote agent registry
REGISTRY_ENABLED = "remote_agent.registry.enabled"
REGISTRY_IDLE_TIMEOUT = "remote_agent.registry.idle_timeout"
REGISTRY_REFRESH_INTERVAL = "remote_agent.registry.recommended_refresh_interval"
REGISTRY_QUERY_TIMEOUT = "remote_agent.registry.query_timeout"

# config stream
CONFIGSTREAM_SLEEP_INTERVAL = "remote_agent.configstream.sleep_interval"
CONFIGSTREAM_HISTORY_SIZE = "remote_agent.configstream.history_size"
CONFIGSTREAM_QUEUE_SIZE = "remote_agent.configstream.queue_size"
CONFIGSTREAM_HISTORY_MAX_BYTES = "remote_agent.configstream.history_max_bytes"
CONFIGSTREAM_QUEUE_MAX_BYTES = "remote_agent.configstream.queue_max_bytes"
CONFIGSTREAM_BATCH_MAX_UPDATES = "remote_agent.configstream.batch_max_updates"
CONFIGSTREAM_PROGRESS_INTERVAL = "remote_agent.configstream.progress_interval"

# size limits of the configuration (pkg.config.limits)
VALUE_MAX_BYTES = "config_limits.value_max_bytes"
TOTAL_MAX_BYTES = "config_limits.total_max_bytes"

# logging
LOG_LEVEL = "log_level"
LOG_FILE = "log_file"
LOG_FILE_MAX_SIZE = "log_file_max_size"
LOG_FILE_MAX_ROLLS = "log_file_max_rolls"
LOG_TO_CONSOLE = "log_to_console"
LOG_FORMAT_JSON = "log_format_json"

# streamed to remote agents
API_KEY = "api_key"
SITE = "site"
HOSTNAME = "hostname"
TAGS = "tags"
LOGS_CONFIG_ENABLED = "logs_config.enabled"

# telemetry endpoint
TELEMETRY_ENABLED = "telemetry.enabled"
TELEMETRY_PORT = "telemetry.port"
