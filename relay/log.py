"""Logging through structlog: JSON lines under systemd (stdout not a TTY), a console on a terminal.

Every token the relay reads is registered with `register_secret`; a processor replaces it with
`[REDACTED]` wherever it appears in any log value, and values under keys that name a secret
(token, access_token, authorization, password) are redacted whatever they hold.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

_SECRET_KEYS = frozenset({"token", "access_token", "authorization", "password", "client_secret", "code"})
_secrets: set[str] = set()
_lock = threading.Lock()
REDACTED = "[REDACTED]"


def register_secret(value: str) -> None:
    """Never let `value` reach a log line."""
    if len(value) >= 4:
        with _lock:
            _secrets.add(value)


def _scrub(value: Any, secrets: frozenset[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, secrets) for v in value)
    if isinstance(value, BaseException):
        return _scrub(str(value), secrets)
    return value


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop registered tokens and secret-named keys from every value."""
    with _lock:
        secrets = frozenset(_secrets)
    for key in list(event):
        if key.lower() in _SECRET_KEYS and event[key] is not None:
            event[key] = REDACTED
        else:
            event[key] = _scrub(event[key], secrets)
    return event


def configure_logging(level: str = "info", *, json: bool | None = None, stream: TextIO | None = None) -> None:
    """Set up structlog once per process. `json=None` picks JSON unless `stream` is a terminal."""
    out = stream or sys.stderr
    if json is None:
        json = not out.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
