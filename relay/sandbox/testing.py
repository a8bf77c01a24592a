"""Helpers for tests that drive the sandbox over loopback: wait on conditions, tap SSE streams.

No sleeps to synchronise: ``wait_until`` polls a condition with a deadline, and ``StreamTap``
keeps every byte a stream sent (for framing checks) and wakes waiters on each chunk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

DEADLINE = 5.0  # seconds to wait for a condition before giving up


def wait_until(predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.01)


@dataclass(frozen=True)
class Event:
    name: str
    data: str


class StreamTap:
    """Reads a streaming response in a thread and keeps every byte, for framing and event checks."""

    def __init__(self, url: str, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.response = requests.get(url, headers=headers, stream=True, timeout=(2, 30))
        self.raw = bytearray()
        self.ended = threading.Event()
        self.error: Exception | None = None
        self._changed = threading.Condition()
        if self.response.status_code == 200:
            threading.Thread(target=self._read, daemon=True).start()
        else:
            self.raw.extend(self.response.content)
            self.ended.set()

    @property
    def status_code(self) -> int:
        return self.response.status_code

    def _read(self) -> None:
        try:
            for chunk in self.response.iter_content(chunk_size=None):
                with self._changed:
                    self.raw.extend(chunk)
                    self._changed.notify_all()
        except Exception as exc:  # a dropped stream is what some tests want to see
            self.error = exc
        finally:
            self.ended.set()
            with self._changed:
                self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return self.raw.decode()

    def events(self) -> list[Event]:
        found = []
        for block in self.text().split("\n\n"):
            lines = [line for line in block.split("\n") if not line.startswith(":")]
            names = [line[7:] for line in lines if line.startswith("event: ")]
            datas = [line[6:] for line in lines if line.startswith("data: ")]
            if names and datas:
                found.append(Event(names[0], "\n".join(datas)))
        return found

    def wait_for(self, predicate: Callable[[StreamTap], bool], timeout: float = DEADLINE) -> None:
        end = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = end - time.monotonic()
                if remaining <= 0 or (self.ended.is_set() and not predicate(self)):
                    if predicate(self):
                        return
                    raise AssertionError(f"stream condition not met; got {bytes(self.raw)[-300:]!r}")
                self._changed.wait(min(remaining, 0.1))

    def wait_event(self, name: str, timeout: float = DEADLINE) -> Event:
        self.wait_for(lambda t: any(e.name == name for e in t.events()), timeout)
        return next(e for e in self.events() if e.name == name)

    def close(self) -> None:
        self.response.close()
