"""relay.sources.nodeinfo: which server an instance runs, read over HTTP from its NodeInfo.

The sandbox answers `/.well-known/nodeinfo` like the server it plays; the odd answers real servers
give (no document, HTML, garbage, a slow server, links elsewhere) come from a scripted server on
127.0.0.1.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from structlog.testing import capture_logs

from relay.core.servers import GOTOSOCIAL, UNKNOWN
from relay.sandbox import Fediverse
from relay.sources.nodeinfo import detect, detect_and_log, document_url

SCHEMA_20 = "http://nodeinfo.diaspora.software/ns/schema/2.0"
SCHEMA_21 = "http://nodeinfo.diaspora.software/ns/schema/2.1"


class Scripted:
    """A loopback HTTP server answering each path with a fixed (status, content type, body)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        self.release = threading.Event()  # a route with status 0 waits for this (a slow server)
        routes, release = self.routes, self.release

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, ctype, body = routes.get(self.path, (404, "text/plain", b"Not Found"))
                if status == 0:
                    release.wait(10)
                    status = 200
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def json(self, path: str, body: object, status: int = 200) -> None:
        self.routes[path] = (status, "application/json", json.dumps(body).encode())

    def links(self, *links: tuple[str, str]) -> None:
        self.json("/.well-known/nodeinfo", {"links": [{"rel": rel, "href": href} for rel, href in links]})

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(2)


@pytest.fixture
def server() -> Iterator[Scripted]:
    scripted = Scripted()
    yield scripted
    scripted.close()


def software(name: object, version: object = "1.0") -> dict[str, object]:
    return {"version": "2.0", "software": {"name": name, "version": version}, "protocols": ["activitypub"]}


class TestDetect:
    def test_gotosocial_with_its_own_version_string(self, server: Scripted) -> None:
        """GoToSocial's NodeInfo gives its kind and its version exactly as it says it."""
        server.links((SCHEMA_20, server.url + "/nodeinfo/2.0"))
        server.json("/nodeinfo/2.0", software("gotosocial", "0.20.0-rc1+git-57cb4fe"))
        found = detect(server.url)
        assert found.error is None
        assert found.kind.family == GOTOSOCIAL.family
        assert found.kind.label == "gotosocial 0.20.0-rc1+git-57cb4fe"

    def test_newest_2x_link_wins(self, server: Scripted) -> None:
        """Of several 2.x documents the newest schema is read; 1.x links are ignored."""
        server.links(
            ("http://nodeinfo.diaspora.software/ns/schema/1.0", server.url + "/n1"),
            (SCHEMA_21, server.url + "/n21"),
            (SCHEMA_20, server.url + "/n20"),
        )
        server.json("/n20", software("mastodon", "4.0.0"))
        server.json("/n21", software("akkoma", "3.15.2"))
        assert detect(server.url).kind.family == "akkoma"

    def test_href_on_the_same_host_is_read_with_the_instances_scheme(self, server: Scripted) -> None:
        """An https:// href on the instance's own host (as GoToSocial advertises behind plain HTTP)
        is read from the instance's own base URL."""
        port = server.url.rsplit(":", 1)[1]
        server.links((SCHEMA_20, f"https://127.0.0.1:{port}/nodeinfo/2.0"))
        server.json("/nodeinfo/2.0", software("pleroma", "2.9.1"))
        assert detect(server.url).kind.family == "pleroma"

    @pytest.mark.parametrize(
        ("links", "document"),
        [
            (None, None),  # no /.well-known/nodeinfo at all: 404
            ({"links": "nope"}, None),
            ({"links": [{"rel": SCHEMA_20}]}, None),  # no href
            ({"links": [{"rel": SCHEMA_20, "href": "/nodeinfo/2.0"}]}, "<html>hello</html>"),
            ({"links": [{"rel": SCHEMA_20, "href": "/nodeinfo/2.0"}]}, {"software": "mastodon"}),
            ({"links": [{"rel": SCHEMA_20, "href": "/nodeinfo/2.0"}]}, {"software": {"name": 42}}),
            ([1, 2, 3], None),
        ],
    )
    def test_odd_answers_are_an_unknown_server_with_a_reason(
        self, server: Scripted, links: object, document: object
    ) -> None:
        """Missing or malformed NodeInfo never raises: the server is taken as Mastodon-compatible
        and the reason is given."""
        if links is not None:
            server.json("/.well-known/nodeinfo", links)
        if isinstance(document, str):
            server.routes["/nodeinfo/2.0"] = (200, "text/html", document.encode())
        elif document is not None:
            server.json("/nodeinfo/2.0", document)
        found = detect(server.url)
        assert found.kind.family == UNKNOWN.family
        assert found.error

    def test_a_slow_server_times_out(self, server: Scripted) -> None:
        """A server that does not answer within the timeout is an unknown server, not a hang."""
        server.routes["/.well-known/nodeinfo"] = (0, "application/json", b"{}")
        found = detect(server.url, timeout=0.2)
        assert found.kind.family == "unknown"
        assert found.error == "timed out"

    def test_unreachable(self) -> None:
        """A closed port is an unknown server with the error's name."""
        scripted = Scripted()
        url = scripted.url
        scripted.close()
        found = detect(url, timeout=2)
        assert (found.kind.family, found.error) == ("unknown", "ConnectionError")

    def test_huge_answer_is_refused(self, server: Scripted) -> None:
        """An answer far larger than any NodeInfo document is not read whole."""
        server.routes["/.well-known/nodeinfo"] = (200, "application/json", b" " * (300 * 1024) + b"{}")
        found = detect(server.url)
        assert found.kind.family == "unknown"
        assert "more than" in (found.error or "")

    def test_the_kind_is_logged_once(self, server: Scripted) -> None:
        """`detect_and_log` says what it found in one log line naming the server as it says it."""
        server.links((SCHEMA_20, "/nodeinfo/2.0"))
        server.json("/nodeinfo/2.0", software("GoToSocial", "v0.20.0-rc1"))
        with capture_logs() as logs:
            kind = detect_and_log(server.url, "gts.test")
        assert kind.label == "GoToSocial v0.20.0-rc1"
        assert [(e["event"], e["family"], e["server"]) for e in logs] == [
            ("server.kind", "gotosocial", "GoToSocial v0.20.0-rc1")
        ]

    def test_an_unknown_kind_is_logged_with_the_reason(self, server: Scripted) -> None:
        """Without NodeInfo the log says the server is taken as Mastodon-compatible, and why."""
        with capture_logs() as logs:
            detect_and_log(server.url, "quiet.test")
        assert [(e["event"], e["assumed"], e["reason"]) for e in logs] == [
            ("server.kind_unknown", "mastodon-compatible", "/.well-known/nodeinfo answered HTTP 404")
        ]


class TestDocumentUrl:
    def test_other_hosts_only_over_https(self) -> None:
        """A document on another host is followed over https, never over plain http."""
        base = "https://social.example"
        good = {"links": [{"rel": SCHEMA_20, "href": "https://other.example/ni"}]}
        bad = {"links": [{"rel": SCHEMA_20, "href": "http://other.example/ni"}]}
        assert document_url(good, base) == "https://other.example/ni"
        assert document_url(bad, base) is None

    def test_odd_schemes_and_hrefs_are_ignored(self) -> None:
        """file:, javascript: and unparsable hrefs are never fetched."""
        base = "https://social.example"
        for href in ("file:///etc/passwd", "javascript:alert(1)", "http://[::1", "relative/path"):
            assert document_url({"links": [{"rel": SCHEMA_20, "href": href}]}, base) is None


class TestSandbox:
    @pytest.mark.parametrize(
        ("flavour", "family", "label"),
        [
            ("mastodon", "mastodon", "mastodon 4.6.4"),
            ("gotosocial", "gotosocial", "gotosocial 0.20.0-rc1+git-57cb4fe"),
            ("akkoma", "akkoma", "akkoma 3.15.2"),
            ("rest-only", "rest-only", "mitra 4.4.0"),
        ],
    )
    def test_each_sandbox_flavour_is_recognised(self, flavour: str, family: str, label: str) -> None:
        """Each server the sandbox plays is read from its NodeInfo as that kind, named as it says."""
        with Fediverse(["home"], flavours={"home": flavour}) as fed:
            found = detect(fed["home"].url)
        assert found.error is None
        assert (found.kind.family, found.kind.label) == (family, label)
