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


class Gate:
    """One request held at the server, for a test to act (kill the client) at that exact moment.

    `stage` "before": the request is held before it is processed, and never processed (lost on the
    way); "after": it is processed, and its answer is held and never sent (lost on the way back).
    Either way the connection is cut once the gate is released. `arrived` is set when the request
    is being held.
    """

    def __init__(self, method: str, path: str, stage: str) -> None:
        if stage not in ("before", "after"):
            raise ValueError(f"stage must be 'before' or 'after', not {stage!r}")
        self.method, self.path, self.stage = method, path, stage
        self.arrived = threading.Event()
        self._released = threading.Event()

    def hold(self) -> None:
        """Called by the server's handler thread: hold here until released (at most a minute)."""
        self.arrived.set()
        self._released.wait(60.0)

    def release(self) -> None:
        self._released.set()


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: list[Gate] = []
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

    def gate(self, method: str, path: str, stage: str) -> Gate:
        """Hold the next `method` request to exactly `path` (see `Gate`); one request, then gone."""
        gate = Gate(method, path, stage)
        with self._lock:
            self._gates.append(gate)
        return gate

    def take_gate(self, method: str, path: str) -> Gate | None:
        """The gate waiting for this request, consumed, or None."""
        with self._lock:
            for gate in self._gates:
                if gate.method == method and gate.path == path:
                    self._gates.remove(gate)
                    return gate
        return None

    def set_latency(self, seconds: float) -> None:
        """Delay every response by ``seconds`` (0 to clear)."""
        self.latency = seconds

    def clear(self) -> None:
        """Clear injected errors and latency (stream faults are cleared on the Instance)."""
        with self._lock:
            self._injected.clear()
            gates, self._gates = self._gates, []
        for gate in gates:
            gate.release()
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
