"""WebSocketReader against a real loopback WebSocket server speaking Mastodon's streaming protocol.

The server (websockets' own, on 127.0.0.1) records each handshake and message, answers with a
refusal or opens the socket, and sends what each test scripts. Tests wait with deadlines.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from relayproc import wait_for
from streamhelp import Recorder, Running
from structlog.testing import capture_logs
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from relay.core.backoff import Backoff
from relay.errors import CredentialsError
from relay.sources.sse import MalformedEvent, StreamEvent
from relay.sources.websocket import StreamError, WebSocketReader, decode_message, subscribe_message

TOKEN = "ws-s3cret-T0KEN-never-in-logs"


def frame(stream: list[str], event: str, payload: Any) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return json.dumps({"stream": stream, "event": event, "payload": text})


def status(ident: str) -> dict[str, Any]:
    return {"id": ident, "uri": f"https://example.social/statuses/{ident}", "content": "<p>hi</p>"}


# --- pure decoding -----------------------------------------------------------------------------


def test_decode_an_update_with_its_payload_as_a_json_string() -> None:
    streams, event = decode_message(frame(["hashtag", "x"], "update", status("1")))  # type: ignore[misc]
    assert streams == ("hashtag", "x")
    assert event == StreamEvent("update", status("1"))


def test_decode_a_delete_and_a_notification() -> None:
    assert decode_message(frame(["hashtag", "x"], "delete", "109"))[1] == StreamEvent("delete", "109")  # type: ignore[index]
    note = {"id": "5", "type": "mention", "status": status("2")}
    assert decode_message(frame(["user:notification"], "notification", note))[1] == StreamEvent(  # type: ignore[index]
        "notification", note
    )


def test_decode_a_payload_sent_as_an_object() -> None:
    message = json.dumps({"stream": ["user"], "event": "update", "payload": status("3")})
    assert decode_message(message)[1] == StreamEvent("update", status("3"))  # type: ignore[index]


def test_decode_the_servers_error_message() -> None:
    assert decode_message('{"error":"Unknown channel requested","status":400}') == StreamError(
        400, "Unknown channel requested"
    )


@pytest.mark.parametrize(
    "message",
    ["not json", "[1, 2]", '{"stream":["user"]}', frame(["hashtag", "x"], "update", "{broken")],
)
def test_decode_malformed_messages_say_why(message: str) -> None:
    decoded = decode_message(message)
    assert not isinstance(decoded, StreamError)
    assert isinstance(decoded[1], MalformedEvent)


def test_subscribe_messages() -> None:
    assert json.loads(subscribe_message(("hashtag", "x"))) == {
        "type": "subscribe",
        "stream": "hashtag",
        "tag": "x",
    }
    assert json.loads(subscribe_message(("user:notification", None))) == {
        "type": "subscribe",
        "stream": "user:notification",
    }


# --- the loopback server -----------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    headers: Headers
    messages: list[str] = field(default_factory=list)


class WSServer:
    """A scripted Mastodon-like WebSocket endpoint. `refuse` answers the next handshakes with a
    status; `outbox` is sent on the open socket; `drop` closes it."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.refuse: int | None = None
        self.refuse_body = b""
        self.outbox: queue.Queue[str | None] = queue.Queue()
        self.cond = threading.Condition()
        self.server: Server = serve(self._handle, "127.0.0.1", 0, process_request=self._process)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/streaming"

    def _process(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        with self.cond:
            self.seen.append(Seen(parts.path, parse_qs(parts.query), request.headers))
            self.cond.notify_all()
        if self.refuse is not None:
            return connection.respond(HTTPStatus(self.refuse), self.refuse_body.decode())
        return None

    def _handle(self, connection: ServerConnection) -> None:
        seen = self.seen[-1]

        def listen() -> None:
            with contextlib.suppress(ConnectionClosed):  # the reader cut the socket
                for message in connection:
                    with self.cond:
                        seen.messages.append(str(message))
                        self.cond.notify_all()

        threading.Thread(target=listen, daemon=True).start()
        while True:
            message = self.outbox.get()
            if message is None:
                connection.close()
                return
            try:
                connection.send(message)
            except ConnectionClosed:
                return

    def wait(self, predicate: Any, timeout: float = 5.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self), timeout), f"server saw {self.seen}"

    def close(self) -> None:
        self.outbox.put(None)
        self.server.shutdown()


@pytest.fixture
def server() -> Iterator[WSServer]:
    ws = WSServer()
    yield ws
    ws.close()


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def reader(server: WSServer, stop: threading.Event, recorder: Recorder, **options: Any) -> WebSocketReader:
    defaults: dict[str, Any] = {
        "name": "ws",
        "url": server.url,
        "token": TOKEN,
        "streams": [("hashtag", "TherapistsConnect"), ("hashtag", "therapy"), ("user:notification", None)],
        "on_event": recorder.on_event,
        "on_connect": recorder.on_connect,
        "stop": stop,
        "read_timeout": 5.0,
        "backoff": Backoff(initial=0.01, maximum=0.05),
    }
    return WebSocketReader(**(defaults | options))


def test_one_socket_carries_every_stream_and_the_token_goes_in_the_header(
    server: WSServer, stop: threading.Event
) -> None:
    recorder = Recorder()
    running = Running.start(reader(server, stop, recorder))
    server.wait(lambda s: s.seen and len(s.seen[0].messages) == 2)
    first = server.seen[0]
    assert first.query == {"stream": ["hashtag"], "tag": ["TherapistsConnect"]}
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert [json.loads(m) for m in first.messages] == [
        {"type": "subscribe", "stream": "hashtag", "tag": "therapy"},
        {"type": "subscribe", "stream": "user:notification"},
    ]
    recorder.wait(lambda r: r.connects == 1)
    server.outbox.put(frame(["hashtag", "therapy"], "update", status("7")))
    server.outbox.put(frame(["hashtag", "therapy"], "delete", "7"))
    server.outbox.put(frame(["user:notification"], "notification", {"id": "1", "type": "mention"}))
    recorder.wait(lambda r: r.names() == ["update", "delete", "notification"])
    assert running.reader.status.connected
    stop.set()
    running.reader.close()
    assert running.join(3.0)


def test_query_auth_puts_the_token_in_the_url_and_never_in_the_logs(
    server: WSServer, stop: threading.Event
) -> None:
    recorder = Recorder()
    server.refuse, server.refuse_body = 404, b'{"error":"Not Found"}'
    failures: list[tuple[str, str]] = []
    with capture_logs() as logs:
        running = Running.start(
            reader(server, stop, recorder, ws_auth="query", on_lasting=lambda f, r: failures.append((f, r)))
        )
        assert running.join(5.0)
    assert server.seen[0].query["access_token"] == [TOKEN]
    assert "Authorization" not in server.seen[0].headers
    assert failures == [("not_found", "http_404: Not Found")]
    assert TOKEN not in repr(logs)


def test_a_refused_token_is_a_lasting_failure_for_the_wiring(server: WSServer, stop: threading.Event) -> None:
    server.refuse = 401
    failures: list[str] = []
    running = Running.start(reader(server, stop, Recorder(), on_lasting=lambda f, r: failures.append(f)))
    assert running.join(5.0)
    assert failures == ["unauthorized"]


def test_a_refused_token_is_fatal_without_a_fallback(server: WSServer, stop: threading.Event) -> None:
    server.refuse = 401
    running = Running.start(reader(server, stop, Recorder()))
    assert running.join(5.0)
    assert isinstance(running.error[0], CredentialsError)
    assert TOKEN not in str(running.error[0])


def test_a_refused_upgrade_is_a_lasting_failure(server: WSServer, stop: threading.Event) -> None:
    server.refuse = 200  # a plain page where the socket should be (a proxy without upgrades)
    failures: list[str] = []
    running = Running.start(reader(server, stop, Recorder(), on_lasting=lambda f, r: failures.append(f)))
    assert running.join(5.0)
    assert failures == ["upgrade_refused"]


def test_a_refused_subscription_message_is_a_lasting_failure(server: WSServer, stop: threading.Event) -> None:
    failures: list[str] = []
    recorder = Recorder()
    running = Running.start(reader(server, stop, recorder, on_lasting=lambda f, r: failures.append(f)))
    recorder.wait(lambda r: r.connects == 1)
    server.outbox.put('{"error":"Unknown channel requested","status":400}')
    assert running.join(5.0)
    assert failures == ["not_found"]


def test_a_server_error_is_retried_not_given_up(server: WSServer, stop: threading.Event) -> None:
    server.refuse = 502
    failures: list[str] = []
    running = Running.start(reader(server, stop, Recorder(), on_lasting=lambda f, r: failures.append(f)))
    server.wait(lambda s: len(s.seen) >= 3)
    assert running.reader.status.last_error == "http_502"
    server.wait(lambda s: len(s.seen) >= 5)
    assert running.join(5.0)  # never connected: given up as unreachable after STUCK_AFTER tries
    assert failures == ["unreachable"]


def test_a_dropped_socket_reconnects_and_catches_up_again(server: WSServer, stop: threading.Event) -> None:
    recorder = Recorder()
    running = Running.start(reader(server, stop, recorder))
    recorder.wait(lambda r: r.connects == 1)
    server.outbox.put(None)  # the server closes the socket
    recorder.wait(lambda r: r.connects == 2)
    server.outbox.put(frame(["hashtag", "therapy"], "update", status("8")))
    recorder.wait(lambda r: r.names() == ["update"])
    assert running.reader.status.connects == 2
    stop.set()
    running.reader.close()
    assert running.join(3.0)


def test_malformed_messages_are_logged_and_skipped(server: WSServer, stop: threading.Event) -> None:
    recorder = Recorder()
    with capture_logs() as logs:
        running = Running.start(reader(server, stop, recorder))
        recorder.wait(lambda r: r.connects == 1)
        server.outbox.put("garbage")
        server.outbox.put(frame(["hashtag", "x"], "update", status("9")))
        recorder.wait(lambda r: r.names() == ["update"])
    assert any(e["event"] == "stream.malformed_event" for e in logs)
    stop.set()
    running.reader.close()
    assert running.join(3.0)


def test_retire_ends_the_reader(server: WSServer, stop: threading.Event) -> None:
    recorder = Recorder()
    running = Running.start(reader(server, stop, recorder))
    recorder.wait(lambda r: r.connects == 1)
    running.reader.retire()
    assert running.join(3.0)
    assert not running.reader.status.connected
    assert not stop.is_set()


def test_a_quiet_socket_stays_up_on_pongs(server: WSServer, stop: threading.Event) -> None:
    """With a read timeout of 0.3 s the reader pings every 0.1 s; the server's pongs keep it up
    while no message comes, until the server has seen several of its pings."""
    recorder = Recorder()
    running = Running.start(reader(server, stop, recorder, read_timeout=0.3))
    recorder.wait(lambda r: r.connects == 1)
    first = running.reader.status.last_activity_at
    assert first is not None
    wait_for(lambda: (running.reader.status.last_activity_at or 0.0) > first + 0.6, timeout=5.0, what="pongs")
    assert running.reader.status.connects == 1
    stop.set()
    running.reader.close()
    assert running.join(3.0)
