"""StreamReader and Watchdog against a real loopback HTTP server that speaks SSE like Mastodon.

The server replays bytes recorded from Mastodon 4.6.4 and can hold a connection open, drop it,
stall, answer 401/403/500 or send malformed events. Tests wait on conditions with deadlines.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from paths import FIXTURES
from streamhelp import Recorder, Running
from structlog.testing import capture_logs

from relay.core.backoff import Backoff
from relay.errors import CredentialsError
from relay.sources.sse import StreamEvent
from relay.sources.stream import StreamReader, Watchdog

TOKEN = "s3cret-T0KEN-never-in-logs"
GREETING = b":)\n"
HEARTBEAT = b":thump\n"


def recorded_stream(cassette: str, path: str) -> bytes:
    """The SSE body Mastodon 4.6.4 sent for `path` in a recorded cassette."""
    data = yaml.safe_load((FIXTURES / cassette).read_text(encoding="utf-8"))
    for interaction in data["interactions"]:
        if urlsplit(interaction["request"]["uri"]).path == path:
            return str(interaction["response"]["body"]["string"]).encode("utf-8")
    raise LookupError(f"{cassette} has no {path}")


def sse(name: str, data: Any) -> bytes:
    """One SSE event as Mastodon frames it."""
    text = data if isinstance(data, str) else json.dumps(data)
    return f"event: {name}\ndata: {text}\n\n".encode()


def status(ident: str) -> dict[str, Any]:
    """A minimal status object."""
    return {"id": ident, "uri": f"https://example.social/statuses/{ident}", "content": "<p>hi</p>"}


# --- the loopback server -----------------------------------------------------------------------


@dataclass
class Script:
    """What the server does on one connection: answer `code`, send `chunks` (`pace` seconds
    apart), then `hold` the connection open and silent, `end` it cleanly, or `drop` it."""

    code: int = 200
    chunks: Sequence[bytes] = (GREETING,)
    then: str = "hold"
    chunked: bool = True
    pace: float = 0.0
    body: bytes = b""


@dataclass
class Request:
    """What the server saw of one request."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float


class SSEServer:
    """A ThreadingHTTPServer on 127.0.0.1 that plays one queued `Script` per connection."""

    def __init__(self, default: Script) -> None:
        self.default = default
        self.scripts: queue.SimpleQueue[Script] = queue.SimpleQueue()
        self.requests: list[Request] = []
        self.release = threading.Event()
        self.changed = threading.Condition()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def play(self, *scripts: Script) -> None:
        for script in scripts:
            self.scripts.put(script)

    def take(self, handler: BaseHTTPRequestHandler) -> Script:
        split = urlsplit(handler.path)
        with self.changed:
            self.requests.append(
                Request(split.path, parse_qs(split.query), dict(handler.headers), time.monotonic())
            )
            self.changed.notify_all()
        try:
            return self.scripts.get_nowait()
        except queue.Empty:
            return self.default

    def wait_requests(self, count: int, timeout: float = 5.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.requests) >= count, timeout), (
                f"server saw {len(self.requests)} requests, waited for {count}"
            )

    def __enter__(self) -> SSEServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        server: SSEServer = self.server.owner  # type: ignore[attr-defined]
        script = server.take(self)
        self.close_connection = True
        # The reader may go away first: that is what some tests do.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._play(script, server.release)

    def _play(self, script: Script, release: threading.Event) -> None:
        if script.code != 200:
            self.send_response(script.code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(script.body)))
            self.end_headers()
            self.wfile.write(script.body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "private, no-store")
        if script.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")  # the body ends when the connection does
        self.end_headers()
        for i, chunk in enumerate(script.chunks):
            if i and script.pace and release.wait(script.pace):
                return
            self._write(chunk, script.chunked)
        if script.then == "end" and script.chunked:
            self.wfile.write(b"0\r\n\r\n")
        elif script.then == "hold":
            release.wait()

    def _write(self, data: bytes, chunked: bool) -> None:
        if chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.wfile.write(data)
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass


# --- the reader side ---------------------------------------------------------------------------


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll `predicate` until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        pause.wait(0.01)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with capture_logs() as captured:
        yield captured


@pytest.fixture
def server() -> Iterator[SSEServer]:
    with SSEServer(Script()) as srv:
        yield srv


@pytest.fixture
def start(
    server: SSEServer, stop: threading.Event, logs: list[dict[str, Any]]
) -> Iterator[Callable[..., tuple[Running, Recorder]]]:
    """Start a reader on the server (defaults: short timeouts, tiny backoff); stopped at teardown."""
    started: list[Running] = []

    def _start(recorder: Recorder | None = None, **kwargs: Any) -> tuple[Running, Recorder]:
        recorder = recorder or Recorder()
        options: dict[str, Any] = {
            "name": "home:therapistsconnect",
            "url": server.url + "/api/v1/streaming/hashtag",
            "params": {"tag": "therapistsconnect"},
            "token": TOKEN,
            "on_event": recorder.on_event,
            "on_connect": recorder.on_connect,
            "stop": stop,
            "read_timeout": 5.0,
            "backoff": Backoff(initial=0.01, maximum=0.05),
        }
        options.update(kwargs)
        running = Running.start(StreamReader(**options))
        started.append(running)
        return running, recorder

    yield _start
    stop.set()
    for running in started:
        running.reader.close()
        assert running.join(2), "reader did not stop"


def events_named(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [entry for entry in list(logs) if entry["event"] == name]


# --- tests -------------------------------------------------------------------------------------


class TestReading:
    def test_recorded_events_arrive_parsed_in_order(self, server: SSEServer, start: Any) -> None:
        """Bytes recorded from Mastodon 4.6.4, cut at odd places, arrive as parsed events in order."""
        body = recorded_stream("stream_user_direct.yaml", "/api/v1/streaming/user")
        server.play(Script(chunks=[body[i : i + 97] for i in range(0, len(body), 97)]))
        _, recorder = start()
        recorder.wait(lambda r: len(r.events) >= 6)
        assert recorder.names() == [
            "update",
            "notification",
            "update",
            "notification",
            "status.update",
            "delete",
        ]
        assert recorder.events[0].data["id"] == "117024236332527350"
        assert recorder.events[1].data["type"] == "mention"
        assert recorder.events[5].data == "117024236332527350"

    def test_token_goes_in_the_header_not_the_url(self, server: SSEServer, start: Any) -> None:
        """The token is sent as a Bearer header; the query carries only the stream's parameters."""
        start()
        server.wait_requests(1)
        request = server.requests[0]
        assert request.path == "/api/v1/streaming/hashtag"
        assert request.query == {"tag": ["therapistsconnect"]}
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"

    @pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "close-delimited"])
    def test_event_arrives_while_connection_stays_open(
        self, server: SSEServer, start: Any, chunked: bool
    ) -> None:
        """One event is handed on at once, although the server keeps the connection open."""
        server.play(Script(chunks=[GREETING, sse("update", status("1"))], chunked=chunked))
        running, recorder = start()
        recorder.wait(lambda r: len(r.events) == 1, timeout=1.0)
        assert recorder.events[0] == StreamEvent("update", status("1"))
        assert running.reader.status.connected
        assert recorder.connects == 1

    def test_heartbeats_keep_a_quiet_stream_alive(self, server: SSEServer, start: Any) -> None:
        """Heartbeats (no events) for longer than the read timeout do not cause a reconnect."""
        server.play(Script(chunks=[GREETING, *[HEARTBEAT] * 8, sse("update", status("7"))], pace=0.1))
        running, recorder = start(read_timeout=0.4)
        recorder.wait(lambda r: len(r.events) == 1)
        assert running.reader.status.connects == 1
        assert len(server.requests) == 1


class TestReconnecting:
    def test_dropped_connection_reconnects_and_catches_up_again(
        self, server: SSEServer, start: Any, logs: list[dict[str, Any]]
    ) -> None:
        """A dropped stream is reconnected after a logged backoff and `on_connect` runs again."""
        server.play(
            Script(chunks=[GREETING, sse("update", status("1"))], then="drop"),
            Script(chunks=[GREETING, sse("update", status("2"))]),
        )
        running, recorder = start()
        recorder.wait(lambda r: len(r.events) == 2 and r.connects == 2)
        assert [e.data["id"] for e in recorder.events] == ["1", "2"]
        assert running.reader.status.connects == 2
        assert events_named(logs, "stream.disconnected")[0]["events"] == 1
        backoff = events_named(logs, "stream.backoff")[0]
        assert backoff["attempt"] == 1
        assert 0 < backoff["delay_s"] <= 0.05

    def test_clean_end_of_stream_reconnects(self, server: SSEServer, start: Any) -> None:
        """A stream the server ends cleanly is reconnected too."""
        server.play(Script(chunks=[GREETING], then="end"))
        _, recorder = start()
        recorder.wait(lambda r: r.connects == 2)

    def test_server_error_is_retried_with_growing_backoff(
        self, server: SSEServer, start: Any, logs: list[dict[str, Any]]
    ) -> None:
        """500s are retried with backoff attempts 1, 2, 3 until the stream opens."""
        error = Script(code=500, body=b'{"error":"boom"}')
        server.play(error, error, error, Script(chunks=[GREETING, sse("update", status("3"))]))
        _, recorder = start()
        recorder.wait(lambda r: len(r.events) == 1)
        backoffs = events_named(logs, "stream.backoff")
        assert [b["attempt"] for b in backoffs[:3]] == [1, 2, 3]
        assert {b["reason"] for b in backoffs[:3]} == {"http_500"}

    def test_stalled_stream_hits_the_read_timeout_and_reconnects(
        self, server: SSEServer, start: Any, logs: list[dict[str, Any]]
    ) -> None:
        """A stream that goes silent (no heartbeats) is dropped after the read timeout and reopened."""
        server.play(Script(chunks=[GREETING]), Script(chunks=[GREETING, sse("update", status("4"))]))
        _, recorder = start(read_timeout=0.5)
        recorder.wait(lambda r: len(r.events) == 1)
        assert events_named(logs, "stream.disconnected")[0]["reason"] == "read_timeout"
        assert recorder.connects == 2

    def test_watchdog_closes_a_silent_stream_so_it_reconnects(
        self, server: SSEServer, start: Any, stop: threading.Event, logs: list[dict[str, Any]]
    ) -> None:
        """The watchdog logs a stream silent for `stale_after` and closes it; it comes back healthy."""
        server.play(Script(chunks=[GREETING]), Script(chunks=[GREETING, sse("update", status("5"))]))
        running, recorder = start(read_timeout=30.0)
        watchdog = Watchdog([running.reader], stop=stop, stale_after=0.3, interval=0.05)
        thread = threading.Thread(target=watchdog.run, daemon=True)
        thread.start()
        recorder.wait(lambda r: len(r.events) == 1)
        stale = events_named(logs, "stream.stale")
        assert [s["stream"] for s in stale] == ["home:therapistsconnect"]
        assert events_named(logs, "stream.disconnected")[0]["reason"] == "closed"
        assert watchdog.healthy() == {"home:therapistsconnect": True}
        stop.set()
        thread.join(2)
        assert not thread.is_alive()


class TestCredentials:
    @pytest.mark.parametrize("code", [401, 403])
    def test_refused_token_is_fatal_and_prompt(
        self, server: SSEServer, start: Any, code: int, logs: list[dict[str, Any]]
    ) -> None:
        """401/403 end `run()` at once with a CredentialsError naming the stream and the fix."""
        server.play(Script(code=code, body=b'{"error":"The access token is invalid"}'))
        running, _ = start()
        assert running.join(2)
        [error] = running.error
        assert isinstance(error, CredentialsError)
        assert "home:therapistsconnect" in str(error)
        assert "The access token is invalid" in str(error)
        assert "read" in (error.fix or "")
        assert len(server.requests) == 1
        assert running.reader.status.fatal
        assert events_named(logs, "stream.auth_failed")[0]["status"] == code

    def test_refused_token_without_fatal_auth_is_reported_and_retried_later(
        self, server: SSEServer, start: Any
    ) -> None:
        """Without fatal_auth a 401 shows in the status and is retried after auth_retry_delay."""
        server.play(
            Script(code=401, body=b'{"error":"revoked"}'),
            Script(chunks=[GREETING, sse("update", status("6"))]),
        )
        running, recorder = start(fatal_auth=False, auth_retry_delay=0.4)
        wait_until(lambda: running.reader.status.last_error is not None)
        assert running.reader.status.last_error == "http_401: revoked"
        assert not running.reader.status.fatal
        recorder.wait(lambda r: len(r.events) == 1)
        first, second = server.requests[:2]
        assert second.at - first.at >= 0.4
        assert running.reader.status.last_error is None


class TestRobustness:
    def test_handler_exception_is_logged_and_the_next_event_arrives(
        self, server: SSEServer, start: Any, logs: list[dict[str, Any]]
    ) -> None:
        """An exception in on_event is logged with the event name; the reader goes on."""
        server.play(Script(chunks=[GREETING, sse("update", status("1")), sse("delete", "1")]))
        recorder = Recorder(fail_on=lambda e: e.name == "update")
        running, _ = start(recorder)
        recorder.wait(lambda r: r.names() == ["update", "delete"])
        [error] = events_named(logs, "stream.handler_error")
        assert error["event_name"] == "update"
        assert error["exc_info"] is True
        assert running.reader.status.connects == 1

    def test_on_connect_exception_does_not_stop_the_reader(
        self, server: SSEServer, start: Any, logs: list[dict[str, Any]]
    ) -> None:
        """An exception in on_connect (the REST catch-up) is logged and events still flow."""
        server.play(Script(chunks=[GREETING, sse("update", status("1"))]))
        recorder = Recorder()

        def broken_catch_up() -> None:
            raise OSError("REST catch-up failed")

        start(recorder, on_connect=broken_catch_up)
        recorder.wait(lambda r: len(r.events) == 1)
        assert events_named(logs, "stream.handler_error")[0]["handler"] == "on_connect"

    def test_malformed_events_are_logged_and_skipped(
        self, server: SSEServer, start: Any, logs: list[dict[str, Any]]
    ) -> None:
        """Non-JSON data and a wrong shape are logged and skipped; broken UTF-8 is replaced."""
        server.play(
            Script(
                chunks=[
                    GREETING,
                    b"event: update\ndata: {not json\n\n",
                    sse("notification", [1, 2]),
                    b'event: update\ndata: {"id": "\xff\xfe"}\n\n',
                    sse("update", status("8")),
                ]
            )
        )
        running, recorder = start()
        recorder.wait(lambda r: len(r.events) == 2)
        assert [e.data["id"] for e in recorder.events] == ["\ufffd\ufffd", "8"]
        reasons = [m["reason"] for m in events_named(logs, "stream.malformed_event")]
        assert reasons == ["data is not JSON", "expected a JSON object with an id"]
        assert running.reader.status.connects == 1


class TestStopping:
    def test_close_after_stop_ends_run_within_a_second(
        self, server: SSEServer, start: Any, stop: threading.Event
    ) -> None:
        """With the connection open and silent, stop plus close() ends run() in under a second."""
        running, recorder = start(read_timeout=30.0)
        recorder.wait(lambda r: r.connects == 1)
        began = time.monotonic()
        stop.set()
        running.reader.close()
        assert running.join(1.0)
        assert time.monotonic() - began < 1.0
        assert not running.reader.status.connected
        assert running.error == []

    def test_stop_alone_ends_every_reader_through_the_watchdog(
        self, server: SSEServer, start: Any, stop: threading.Event
    ) -> None:
        """Setting the one stop event ends a watchdog and all its readers within a second."""
        readers = [start(read_timeout=30.0, name=f"s{i}") for i in range(3)]
        for _, recorder in readers:
            recorder.wait(lambda r: r.connects == 1)
        watchdog = Watchdog([r.reader for r, _ in readers], stop=stop, stale_after=30.0)
        thread = threading.Thread(target=watchdog.run, daemon=True)
        thread.start()
        stop.set()
        deadline = time.monotonic() + 1.0
        for running, _ in readers:
            assert running.join(max(0.0, deadline - time.monotonic()))
        thread.join(1.0)
        assert not thread.is_alive()

    def test_stop_during_a_long_backoff_ends_run_promptly(
        self, server: SSEServer, start: Any, stop: threading.Event, logs: list[dict[str, Any]]
    ) -> None:
        """A reader waiting 30 s before its next attempt stops as soon as stop is set."""
        server.play(Script(code=500))
        running, _ = start(backoff=Backoff(initial=30.0, maximum=30.0, jitter=0.0))
        wait_until(lambda: bool(events_named(logs, "stream.backoff")))
        stop.set()
        assert running.join(1.0)


def test_token_never_appears_in_logs_or_errors(
    server: SSEServer, start: Any, logs: list[dict[str, Any]]
) -> None:
    """Across connect, events, a drop, a 500 and a fatal 401, no log line or error shows the token."""
    server.play(
        Script(chunks=[GREETING, sse("update", status("1"))], then="drop"),
        Script(code=500),
        Script(code=401, body=b'{"error":"The access token is invalid"}'),
    )
    running, _ = start()
    assert running.join(5)
    [error] = running.error
    assert TOKEN not in str(error)
    assert TOKEN not in repr(logs)
    assert {
        "stream.connecting",
        "stream.connected",
        "stream.disconnected",
        "stream.backoff",
        "stream.auth_failed",
    } <= {entry["event"] for entry in logs}
    assert all(
        entry["url"] == server.url + "/api/v1/streaming/hashtag"
        for entry in events_named(logs, "stream.connecting")
    )


def test_token_in_params_is_refused(stop: threading.Event) -> None:
    """A token passed as a query parameter is refused, since the URL would end up in logs."""
    with pytest.raises(ValueError, match="token="):
        StreamReader(
            name="x",
            url="http://127.0.0.1:1/",
            params={"access_token": TOKEN},
            token=None,
            on_event=lambda e: None,
            stop=stop,
        )
