"""The core_agent binary."""
