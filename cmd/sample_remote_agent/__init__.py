"""The sample_remote_agent binary."""
