"""Helpers for tests that drive the sandbox over loopback: wait on conditions, tap streams.

No sleeps to synchronise: ``wait_until`` polls a condition with a deadline, ``StreamTap`` keeps
every byte an SSE stream sent (for framing checks) and wakes waiters on each chunk, and
``SocketTap`` does the same for a WebSocket (with ``websockets``, a client independent of the
sandbox's wsproto server), keeping each message.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

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


@dataclass(frozen=True)
class Message:
    """One WebSocket message: ``stream``/``event``/``payload`` as sent, or an ``error``."""

    raw: str
    data: Any  # the parsed JSON (None if the message was not JSON)

    @property
    def stream(self) -> list[str] | None:
        return self.data.get("stream") if isinstance(self.data, dict) else None

    @property
    def event(self) -> str | None:
        return self.data.get("event") if isinstance(self.data, dict) else None

    @property
    def payload(self) -> Any:
        """The payload decoded once more: a status or notification dict, or a delete's id."""
        text = self.data.get("payload") if isinstance(self.data, dict) else None
        if not isinstance(text, str):
            return text
        try:
            return json.loads(text)
        except ValueError:
            return text


class SocketTap:
    """A WebSocket to an instance's ``/api/v1/streaming`` that keeps every message it receives.

    ``auth`` says where the token goes: ``"header"`` (Authorization: Bearer), ``"query"``
    (``access_token``), ``"protocol"`` (Sec-WebSocket-Protocol) or None. ``status_code`` is 101
    when the upgrade was accepted, else the HTTP status of the refusal.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        auth: str | None = "header",
        **params: str,
    ) -> None:
        query = dict(params)
        headers: dict[str, str] = {}
        protocols: list[Any] | None = None
        if token is not None and auth == "header":
            headers["Authorization"] = f"Bearer {token}"
        elif token is not None and auth == "query":
            query["access_token"] = token
        elif token is not None and auth == "protocol":
            protocols = [token]
        url = "ws" + base_url.removeprefix("http") + "/api/v1/streaming"
        if query:
            url += "?" + urlencode(query)
        self.messages: list[Message] = []
        self.ended = threading.Event()
        self.close_code: int | None = None  # the code of a close frame received, None if cut
        self.subprotocol: str | None = None
        self._changed = threading.Condition()
        self.socket: ClientConnection | None = None
        try:
            self.socket = connect(
                url,
                additional_headers=headers,
                subprotocols=protocols,
                open_timeout=5,
                ping_interval=None,  # the server pings; the client only answers
                close_timeout=2,
                legacy=True,  # a connection kept open across calls, not a with-block
            )
        except InvalidStatus as exc:
            self.status_code = exc.response.status_code
            self.body = exc.response.body or b""
            self.ended.set()
            return
        self.status_code = 101
        self.subprotocol = self.socket.subprotocol
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.socket is not None
        try:
            for raw in self.socket:
                text = raw if isinstance(raw, str) else raw.decode(errors="replace")
                try:
                    data = json.loads(text)
                except ValueError:
                    data = None
                with self._changed:
                    self.messages.append(Message(text, data))
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            received = self.socket.protocol.close_rcvd
            self.close_code = None if received is None else received.code
            self.ended.set()
            with self._changed:
                self._changed.notify_all()

    def send(self, **message: Any) -> None:
        """Send one JSON message, e.g. ``send(type="subscribe", stream="hashtag", tag="x")``."""
        assert self.socket is not None
        self.socket.send(json.dumps(message))

    def events(self, event: str | None = None, stream: list[str] | None = None) -> list[Message]:
        with self._changed:
            found = list(self.messages)
        return [
            m for m in found if (event is None or m.event == event) and (stream is None or m.stream == stream)
        ]

    def wait_for(self, predicate: Callable[[SocketTap], bool], timeout: float = DEADLINE) -> None:
        end = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = end - time.monotonic()
                if remaining <= 0 or self.ended.is_set():
                    if predicate(self):
                        return
                    raise AssertionError(
                        f"socket condition not met; got {[m.raw[:120] for m in self.messages]}"
                    )
                self._changed.wait(min(remaining, 0.1))

    def wait_event(self, event: str, stream: list[str] | None = None, timeout: float = DEADLINE) -> Message:
        self.wait_for(lambda t: bool(t.events(event, stream)), timeout)
        return self.events(event, stream)[0]

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
