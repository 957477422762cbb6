"""Errors of the IPC secrets. Every message names the file and says how to fix the problem."""

from __future__ import annotations

from pathlib import Path

__all__ = ["InsecureFileModeError", "IpcError", "IpcFileMissingError", "LocationError"]


class IpcError(Exception):
    """An IPC secret (auth token, certificate) cannot be created, loaded or used."""


class LocationError(IpcError):
    """A config file or a setting needed to find the core agent is unusable (the message names it)."""


class IpcFileMissingError(IpcError, FileNotFoundError):
    """A secret file that must already exist (client side) is absent."""

    def __init__(self, what: str, path: Path) -> None:
        self.path = path
        super().__init__(
            f"{what} {path} does not exist: the core agent creates it at its first start "
            "(is it running, and is the path the one it uses?)"
        )


class InsecureFileModeError(IpcError, PermissionError):
    """A secret file can be accessed by group or others."""

    def __init__(self, what: str, path: Path, mode: int) -> None:
        self.path = path
        self.mode = mode
        super().__init__(
            f"{what} {path} has mode {mode:04o}: group or others can access it, but it must be readable "
            f"and writable by its owner only (fix: chmod 600 {path})"
        )
