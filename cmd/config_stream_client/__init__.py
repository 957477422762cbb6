"""The config_stream_client binary."""
