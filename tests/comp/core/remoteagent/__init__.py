"""Tests of the remote agent component."""
