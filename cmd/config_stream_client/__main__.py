"""``python -m config_stream_client``: the same as the ``config-stream-client`` command."""

from __future__ import annotations

from config_stream_client.main import main

main()
