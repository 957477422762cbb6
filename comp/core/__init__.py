"""Core components shared by every binary."""
