"""Logging through structlog: JSON lines under systemd (stdout not a TTY), a console on a terminal.

Every token the relay reads is registered with `register_secret`; a processor replaces it with
`[REDACTED]` wherever it appears in any log value, and values under keys that name a secret
(token, access_token, authorization, password) are redacted whatever they hold.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, TextIO

import orjson
import structlog

_SECRET_KEYS = frozenset({"token", "access_token", "authorization", "password", "client_secret", "code"})
_secrets: set[str] = set()
_forms: tuple[str, ...] = ()  # every registered secret as it can appear in a rendered line
_lock = threading.Lock()
REDACTED = "[REDACTED]"


def register_secret(value: str) -> None:
    """Never let `value` reach a log line."""
    global _forms
    if len(value) >= 4:
        with _lock:
            _secrets.add(value)
            forms = set()
            for secret in _secrets:  # as it is, in a repr, and each of those JSON-escaped
                for text in (secret, repr(secret)[1:-1]):
                    forms |= {text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
            _forms = tuple(sorted(forms, key=len, reverse=True))  # longest first: no half-replaced form


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by `[REDACTED]`."""
    for form in _forms:
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def redact_secret_keys(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: values under keys that name a secret are redacted, whatever they hold."""
    for key in event:
        if key.lower() in _SECRET_KEYS and event[key] is not None:
            event[key] = REDACTED
    return event


class Redacted:
    """structlog's last processor: `renderer`, then every registered secret scrubbed from the line.

    Scrubbing the rendered line, once, finds a token wherever it is embedded (a URL, a header in a
    nested dict, an exception's message, a traceback) at the cost of one substring search per
    secret, however many values the line has.
    """

    def __init__(self, renderer: Callable[[Any, str, MutableMapping[str, Any]], str]) -> None:
        self._renderer = renderer

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> str:
        return scrub(self._renderer(logger, method, event))


def _json_default(value: Any) -> Any:
    """How a JSON log line shows what JSON has no type for: an exception by its message."""
    if isinstance(value, BaseException):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return repr(value)


def render_json(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> str:
    """One JSON line (orjson; json's encoder for what orjson refuses, e.g. integers past 64 bits)."""
    try:
        return orjson.dumps(event, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(event, default=_json_default, ensure_ascii=False)


class LineLogger:
    """structlog's logger for the relay: writes each rendered line to `file` and flushes it, or,
    on a thread inside `lines_held()`, keeps it to be written with the others at the end.

    One instance serves every bound logger (structlog's `PrintLoggerFactory` made a new logger,
    with a weak-dict lookup for its lock, at every log call)."""

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self._lock = threading.Lock()

    def __call__(self, *_args: Any) -> LineLogger:
        """structlog's logger factory: this logger, for every bound logger."""
        return self

    def msg(self, message: str) -> None:
        held = getattr(_held, "lines", None)
        if held is not None:
            held.append((self, message))
        else:
            self.write_lines([message])

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg

    def write_lines(self, lines: list[str]) -> None:
        """Write `lines`, each ended by a newline, in one write, and flush."""
        with self._lock:
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()


_held = threading.local()


@contextlib.contextmanager
def lines_held() -> Iterator[None]:
    """The log lines this thread writes inside are written together at the end (one write and one
    flush, not one each), even if the block raises. Nested, the outermost writes them."""
    if getattr(_held, "lines", None) is not None:
        yield
        return
    lines: list[tuple[LineLogger, str]] = []
    _held.lines = lines
    try:
        yield
    finally:
        _held.lines = None
        by_logger: dict[LineLogger, list[str]] = {}
        for logger, line in lines:
            by_logger.setdefault(logger, []).append(line)
        for logger, batch in by_logger.items():
            logger.write_lines(batch)


def configure_logging(level: str = "info", *, json: bool | None = None, stream: TextIO | None = None) -> None:
    """Set up structlog once per process. `json=None` picks JSON unless `stream` is a terminal."""
    out = stream or sys.stderr
    if json is None:
        json = not out.isatty()
    renderer: Any = render_json if json else structlog.dev.ConsoleRenderer(colors=out.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secret_keys,
            Redacted(renderer),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=LineLogger(out),
        cache_logger_on_first_use=False,  # a later configure_logging (or a test's) takes effect
    )
