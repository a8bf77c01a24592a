"""The reader side of StreamReader tests: a recorder of what a reader hands on, and a reader run in a thread.

Shared by the tests against the loopback SSE server (`test_stream.py`) and against the sandbox
(`test_stream_sandbox.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from relay.sources.reader import Reader
from relay.sources.sse import StreamEvent


class Recorder:
    """Collects what a reader hands on; tests wait on it with a deadline."""

    def __init__(self, fail_on: Callable[[StreamEvent], bool] = lambda e: False) -> None:
        self.events: list[StreamEvent] = []
        self.connects = 0
        self.fail_on = fail_on
        self.cond = threading.Condition()

    def on_event(self, event: StreamEvent) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()
        if self.fail_on(event):
            raise RuntimeError(f"handler chokes on {event.name}")

    def on_connect(self) -> None:
        with self.cond:
            self.connects += 1
            self.cond.notify_all()

    def wait(self, predicate: Callable[[Recorder], bool], timeout: float = 5.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self), timeout), (
                f"gave up after {timeout}s: {len(self.events)} events, {self.connects} connects"
            )

    def names(self) -> list[str]:
        with self.cond:
            return [e.name for e in self.events]


@dataclass
class Running:
    """A reader's `run()` in its own thread, with what it raised."""

    reader: Reader
    thread: threading.Thread = field(init=False)
    error: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, name=self.reader.name, daemon=True)

    @classmethod
    def start(cls, reader: Reader) -> Running:
        """Start `reader.run()` in a daemon thread named after the reader."""
        running = cls(reader)
        running.thread.start()
        return running

    def _run(self) -> None:
        try:
            self.reader.run()
        except BaseException as exc:
            self.error.append(exc)

    def join(self, timeout: float) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()
