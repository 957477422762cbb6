"""API components."""
