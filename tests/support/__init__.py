"""Helpers shared by the tests: polling, a scripted core agent, wire events."""
