"""One exception base for everything relay raises on purpose.

Each error carries what an operator needs to act on it: `exit_code` says how the CLI ends
(2 means "configuration or credentials: do not restart", as the systemd unit declares), and
`fix` is one sentence on what to do about it.
"""

from __future__ import annotations


class RelayError(Exception):
    """Base of every error relay raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}\n  fix: {self.fix}"
        return self.message


class ConfigError(RelayError):
    """relay.toml (or a file it names) is wrong; the message names the file, key and value."""

    exit_code = 2


class CredentialsError(RelayError):
    """A token is missing, unreadable, too widely readable, revoked or lacks a scope."""

    exit_code = 2


class StoreError(RelayError):
    """The SQLite state file cannot be used (corrupt, locked, from a newer relay)."""

    exit_code = 2


class InputError(RelayError):
    """A file given on the command line is malformed; the message names the line."""

    exit_code = 2


class CommandError(RelayError):
    """A moderator command could not be parsed or carried out."""


class IllegalTransition(RelayError):
    """A review-queue move that the lifecycle table does not allow."""
