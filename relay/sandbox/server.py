"""The HTTP side of one instance: parse, authenticate, rate-limit, inject faults, dispatch.

REST and streaming share one port (the instance announces ``ws://host:port`` as its streaming
URL, and Mastodon.py and the relay turn that into ``http://``). Responses are JSON with
``Content-Length``; streams use chunked transfer encoding as the Node streaming server does.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog
from wsproto.utilities import RemoteProtocolError

from relay.sandbox import api_collections, api_rest, api_site  # noqa: F401  (modules register their routes)
from relay.sandbox.faults import Faults, RecordedRequest
from relay.sandbox.model import Token, scope_allows
from relay.sandbox.ratelimit import RateLimiter
from relay.sandbox.routing import ROUTES, Request, Response, error
from relay.sandbox.state import InstanceState, SandboxError
from relay.sandbox.streaming import CHANNELS, Control, StreamHub, Subscription
from relay.sandbox.text import normalize_tag
from relay.sandbox.websocket import WebSocketSession, handshake

log = structlog.get_logger()

PAGING_PARAMS = ("max_id", "since_id", "min_id")
STREAM_PREFIX = "/api/v1/streaming"
REASONS = {
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


class SandboxHTTPServer(ThreadingHTTPServer):
    """Serves one instance; remembers open connections so ``close`` can cut them all."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, state: InstanceState, hub: StreamHub, limiter: RateLimiter, faults: Faults, port: int = 0
    ) -> None:
        super().__init__(("127.0.0.1", port), SandboxHandler)
        self.state, self.hub, self.limiter, self.faults = state, hub, limiter, faults
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request (a relay killed with SIGKILL) is logged, not printed."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            log.debug("sandbox.client_gone", error=type(error).__name__)
            return
        super().handle_error(request, client_address)

    def close(self) -> None:
        """Stop serving: end streams, stop the accept loop, cut every open connection."""
        self.hub.stop()
        self.shutdown()
        self.server_close()
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxHTTPServer
    server_version = "Mastodon"
    sys_version = ""

    def setup(self) -> None:
        # Without TCP_NODELAY a keep-alive response written as headers, then body, waits for the
        # client's delayed ACK of the headers (Nagle's algorithm): ~40 ms a request, where a real
        # Mastodon (puma, nginx) answers at once. Streams flush every event, so they gain too.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr log; requests are logged with structlog instead."""

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # ---- request parsing ------------------------------------------------------------------

    def _body(self) -> dict[str, list[str]]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        if "json" in (self.headers.get("Content-Type") or ""):
            data = json.loads(raw)
            return {
                k: [str(x) for x in v]
                if isinstance(v, list)
                else [json.dumps(v) if isinstance(v, bool) else str(v)]
                for k, v in data.items()
            }
        return parse_qs(raw.decode(), keep_blank_values=True)

    def _token_value(self, query: dict[str, list[str]]) -> str | None:
        header = self.headers.get("Authorization") or ""
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        return query.get("access_token", [None])[0]

    # ---- responses ------------------------------------------------------------------------

    def _send(self, response: Response, extra: dict[str, str] | None = None) -> None:
        body = response.body
        if isinstance(body, str):
            payload = body.encode()
        elif isinstance(body, bytes):
            payload = body
        else:
            payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in {**response.headers, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    # ---- dispatch -------------------------------------------------------------------------

    def _handle(self) -> None:
        server = self.server
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        query = parse_qs(split.query, keep_blank_values=True)
        token_value = self._token_value(query)
        server.faults.record(RecordedRequest(self.command, path, split.query, token_value))
        log.debug("sandbox.request", instance=server.state.name, method=self.command, path=path)
        try:
            form = self._body()
        except (ValueError, UnicodeDecodeError):
            self.close_connection = True
            self._send(error(400, "Malformed request body"))
            return
        if server.faults.latency:
            time.sleep(server.faults.latency)
        injected = server.faults.take_failure(path)
        if injected is not None:
            status, reset_in = injected
            headers = {}
            flavour = server.state.flavour
            if status == 429 and not flavour.rate_headers:
                self._send(error(429, flavour.throttled))
                return
            if status == 429:
                reset = datetime.now(UTC) + timedelta(seconds=reset_in)
                headers = {
                    "X-RateLimit-Limit": str(server.limiter.limits.api.limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                }
            self._send(error(status, REASONS.get(status, "Injected failure")), headers)
            return
        if path == STREAM_PREFIX and (self.headers.get("Upgrade") or "").lower() == "websocket":
            self._websocket(query)
            return
        if path.startswith(STREAM_PREFIX):
            if server.state.flavour.sse:
                self._stream(path, query, token_value)
            elif path == STREAM_PREFIX and server.state.flavour.websocket:
                self._send(error(400, "Bad Request"))  # a WebSocket endpoint asked without upgrade
            else:
                self._send(error(404, "Not Found"))
            return
        gate = server.faults.take_gate(self.command, path)
        if gate is not None and gate.stage == "before":
            gate.hold()  # the request is lost on the way: never processed, the connection cut
            self.close_connection = True
            return
        with server.state.lock:
            response, headers = self._dispatch(path, query, form, token_value)
        if gate is not None:
            gate.hold()  # processed, but its answer is lost: the connection is cut instead
            self.close_connection = True
            return
        self._send(response, headers)

    def _dispatch(
        self, path: str, query: dict[str, list[str]], form: dict[str, list[str]], token_value: str | None
    ) -> tuple[Response, dict[str, str]]:
        state = self.server.state
        for candidate in ROUTES:
            match = candidate.pattern.match(path)
            if match is None or not re.fullmatch(candidate.method, self.command):
                continue
            token = state.tokens.get(token_value) if token_value else None
            headers: dict[str, str] = {}
            if path.startswith("/api/"):
                budgets = ["api"]
                if any(p in query for p in PAGING_PARAMS):
                    budgets.append("paging")
                key = token_value or f"ip:{self.client_address[0]}"
                if candidate.budget:
                    budgets.append(candidate.budget)
                    key = token.account.id if token and token.account else key
                verdict = self.server.limiter.hit(budgets, key)
                headers = verdict.headers() if state.flavour.rate_headers else {}
                if not verdict.allowed:
                    return error(429, state.flavour.throttled), headers
            refusal = self._authorize(candidate.auth, candidate.scopes, token_value, token)
            if refusal is not None:
                return refusal, headers
            sent = {k.lower(): v for k, v in self.headers.items()}
            request = Request(self.command, path, query, form, state, token, match.groupdict(), sent)
            try:
                return candidate.handler(request), headers
            except SandboxError as exc:
                return error(exc.status, exc.message), headers
        return error(404, "Not Found"), {}

    @staticmethod
    def _authorize(
        auth: str, scopes: tuple[str, ...], token_value: str | None, token: Token | None
    ) -> Response | None:
        if auth == "none":
            return None
        if token_value is None:
            return None if auth == "optional" else error(401, "The access token is invalid")
        if token is None:
            return error(401, "The access token is invalid")
        if token.revoked:
            return error(401, "The access token was revoked")
        if scopes and not scope_allows(token.scopes, *scopes):
            return error(403, "This action is outside the authorized scopes")
        if auth == "user" and token.account is None:
            return error(422, "This method requires an authenticated user")
        return None

    # ---- WebSocket ------------------------------------------------------------------------

    def _ws_token(self, query: dict[str, list[str]]) -> tuple[str | None, str | None]:
        """(token, the Sec-WebSocket-Protocol it came in, if so), where this flavour looks for it."""
        protocol = (self.headers.get("Sec-WebSocket-Protocol") or "").split(",")[0].strip() or None
        header = self.headers.get("Authorization") or ""
        bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
        from_query = query.get("access_token", [None])[0]
        if not self.server.state.flavour.ws_bearer:
            bearer = None
        token = bearer or from_query or protocol
        return token, protocol if token == protocol else None

    def _websocket(self, query: dict[str, list[str]]) -> None:
        server = self.server
        flavour = server.state.flavour
        self.close_connection = True
        if not flavour.websocket:
            self._send(error(404, "Not Found"))
            return
        token_value, protocol = self._ws_token(query)
        token = self._stream_token(token_value)
        if token is None:
            return
        if flavour.stream_needs_read and "read" not in token.scopes:
            self._stream_error(403, "This action is outside the authorized scopes")
            return
        stream = query.get("stream", [None])[0]
        params = {k: v[0] for k, v in query.items()}
        if not flavour.ws_errors and stream is not None:
            known = stream.replace(":", "/") in CHANNELS
            if not known or (stream.startswith("hashtag") and not params.get("tag")):
                self._stream_error(404, "Not Found")  # Akkoma, GoToSocial: a bad topic is refused
                return
        try:
            conn, accept = handshake(
                self.requestline, self.headers.items(), protocol if flavour.ws_echo_protocol else None
            )
        except RemoteProtocolError:
            self._send(error(400, "Bad Request"))
            return
        self.wfile.write(accept)
        session = WebSocketSession(self.connection, self.rfile, conn, server.hub, flavour, token)
        log.info("sandbox.ws_open", instance=server.state.name, stream=stream)
        if stream is not None:
            session.subscribe(stream, params, at_connect=True)
        session.run(server.hub.ping_interval)

    # ---- streaming ------------------------------------------------------------------------

    def _stream_error(self, status: int, message: str) -> None:
        self._send(Response(status, {"error": message}))

    def _stream_token(self, token_value: str | None) -> Token | None:
        """The live user token a stream or socket is opened with; None once a 401 is sent."""
        with self.server.state.lock:
            token = self.server.state.tokens.get(token_value) if token_value else None
        if token_value is None:
            self._stream_error(401, "Missing access token")
            return None
        if token is None or token.revoked or token.account is None:
            self._stream_error(401, "Invalid access token")
            return None
        return token

    def _stream(self, path: str, query: dict[str, list[str]], token_value: str | None) -> None:
        server = self.server
        channel = path.removeprefix(STREAM_PREFIX).strip("/") or query.get("stream", [""])[0]
        channel = channel.replace(":", "/")
        if channel == "health":
            self._send(Response(200, "OK", "text/plain"))
            return
        if channel not in CHANNELS:
            self._stream_error(400, "Unknown channel requested")
            return
        token = self._stream_token(token_value)
        if token is None:
            return
        if CHANNELS[channel] and not scope_allows(token.scopes, *CHANNELS[channel]):
            self._stream_error(401, "Access token does not have the required scopes")
            return
        tag = query.get("tag", [""])[0]
        if channel.startswith("hashtag") and not tag:
            self._stream_error(400, "Missing tag name parameter")
            return
        assert token.account is not None  # _stream_token refuses a token without a user
        sub = Subscription(channel, token.account, token.value, normalize_tag(tag) if tag else None)
        self.send_response(200)
        for name, value in (
            ("Content-Type", "text/event-stream"),
            ("Cache-Control", "private, no-store"),
            ("Transfer-Encoding", "chunked"),
            ("Access-Control-Allow-Origin", "*"),
        ):
            self.send_header(name, value)
        self.end_headers()
        self.close_connection = True
        server.hub.subscribe(sub)
        log.info("sandbox.stream_open", instance=server.state.name, channel=channel, tag=tag)
        try:
            ended = server.hub.pump(sub, self._write_chunk)
            if ended is Control.CLOSE:
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            server.hub.unsubscribe(sub)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()
