"""Fault switches for one instance, flipped from Python by tests and ``relay demo``.

``Faults`` holds what to do to the next requests (errors, latency); the stream faults act on the
instance's ``StreamHub`` at once. ``requests`` records every request so a test can assert on
what a client really did.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: str
    token: str | None


@dataclass
class _Injected:
    status: int
    remaining: int
    path_prefix: str
    reset_in: float = 1.0  # for a 429: the X-RateLimit-Reset it announces, seconds from now


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._injected: list[_Injected] = []
        self.latency = 0.0
        self._requests: list[RecordedRequest] = []

    def fail_next(
        self, count: int = 1, *, status: int = 503, path_prefix: str = "", reset_in: float = 1.0
    ) -> None:
        """Answer the next ``count`` requests under ``path_prefix`` with ``status`` (5xx, 429, 422...).

        A 429 carries the ``X-RateLimit-*`` headers as Mastodon's always do: nothing remaining,
        and a reset ``reset_in`` seconds from now.
        """
        with self._lock:
            self._injected.append(_Injected(status, count, path_prefix, reset_in))

    def set_latency(self, seconds: float) -> None:
        """Delay every response by ``seconds`` (0 to clear)."""
        self.latency = seconds

    def clear(self) -> None:
        """Clear injected errors and latency (stream faults are cleared on the Instance)."""
        with self._lock:
            self._injected.clear()
        self.latency = 0.0

    def take_failure(self, path: str) -> tuple[int, float] | None:
        """(status, reset_in) to fail this request with, consuming one injected failure, or None."""
        with self._lock:
            for item in self._injected:
                if path.startswith(item.path_prefix) and item.remaining > 0:
                    item.remaining -= 1
                    if item.remaining == 0:
                        self._injected.remove(item)
                    return item.status, item.reset_in
        return None

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
