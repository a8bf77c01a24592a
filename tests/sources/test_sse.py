"""parse_stream and decode_event: SSE bytes (as Mastodon 4.6.4 sends them) into StreamEvents."""

from __future__ import annotations

import itertools
import json
from urllib.parse import urlsplit

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from paths import FIXTURES
from sseclient import SSEClient

from relay.sources.sse import MalformedEvent, StreamEvent, decode_event, parse_stream


def recorded(cassette: str, path: str) -> bytes:
    """The SSE body Mastodon 4.6.4 sent for `path` in a recorded cassette."""
    data = yaml.safe_load((FIXTURES / cassette).read_text(encoding="utf-8"))
    for interaction in data["interactions"]:
        if urlsplit(interaction["request"]["uri"]).path == path:
            return str(interaction["response"]["body"]["string"]).encode("utf-8")
    raise LookupError(path)


USER = recorded("stream_user_direct.yaml", "/api/v1/streaming/user")
DIRECT = recorded("stream_user_direct.yaml", "/api/v1/streaming/direct")


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


class TestParseStream:
    def test_recorded_user_stream(self) -> None:
        """The recorded user stream gives its six events, with the greeting and comments skipped."""
        events = list(parse_stream([USER]))
        assert [e.name for e in events] == [
            "update",
            "notification",
            "update",
            "notification",
            "status.update",
            "delete",
        ]
        assert all(isinstance(e, StreamEvent) for e in events)
        assert events[-1] == StreamEvent("delete", "117024236332527350")

    def test_recorded_direct_stream(self) -> None:
        """The recorded direct stream gives two `conversation` objects."""
        events = list(parse_stream([DIRECT]))
        assert [e.name for e in events] == ["conversation", "conversation"]
        assert all(isinstance(e, StreamEvent) and e.data["id"] == "7" for e in events)

    @given(st.lists(st.integers(min_value=0), max_size=40))
    def test_chunk_boundaries_do_not_matter(self, cuts: list[int]) -> None:
        """However the bytes are cut into chunks, the same events come out."""
        assert list(parse_stream(split_at(USER, cuts))) == list(parse_stream([USER]))

    def test_one_byte_chunks(self) -> None:
        """Even one byte at a time the events come out whole."""
        one_by_one = [USER[i : i + 1] for i in range(len(USER))]
        assert list(parse_stream(one_by_one)) == list(parse_stream([USER]))

    def test_heartbeats_alone_give_no_events(self) -> None:
        """The greeting and heartbeats are comments: no events."""
        assert list(parse_stream([b":)\n", b":thump\n", b":thump\n\n"])) == []

    def test_crlf_framing(self) -> None:
        """CRLF line ends (a proxy may rewrite them) parse the same."""
        assert list(parse_stream([b'event: update\r\ndata: {"id": "1"}\r\n\r\n'])) == [
            StreamEvent("update", {"id": "1"})
        ]

    def test_broken_utf8_is_replaced_as_the_sse_spec_says(self) -> None:
        """Bytes that are not UTF-8 become U+FFFD (as in EventSource); nothing is lost around them."""
        data = b'event: update\ndata: {"id": "\xff"}\n\nevent: delete\ndata: 5\n\n'
        assert list(parse_stream([data[:30], data[30:]])) == [
            StreamEvent("update", {"id": "\ufffd"}),
            StreamEvent("delete", "5"),
        ]

    def test_character_split_across_chunks_is_kept(self) -> None:
        """A multi-byte character cut between two chunks arrives whole."""
        data = 'event: update\ndata: {"id": "é🦣"}\n\n'.encode()
        cut = data.index("🦣".encode()) + 2
        assert list(parse_stream([data[:cut], data[cut:]])) == [StreamEvent("update", {"id": "é🦣"})]

    def test_character_cut_short_before_an_ascii_chunk_is_replaced(self) -> None:
        """A character whose last bytes never come, followed by a plain ASCII chunk, is one U+FFFD."""
        data = 'event: update\ndata: {"id": "🦣"}\n\n'.encode()
        cut = data.index("🦣".encode()) + 2
        chunks = [data[:cut], b'"}\n\n']  # the mammoth's last two bytes are lost
        assert chunks[1].isascii()
        assert list(parse_stream(chunks)) == [StreamEvent("update", {"id": "\ufffd"})]

    @given(
        st.lists(st.one_of(st.binary(max_size=6), st.text(max_size=6).map(str.encode)), max_size=12),
        st.lists(st.integers(min_value=0), max_size=8),
    )
    def test_any_bytes_cut_anywhere_read_as_the_whole_stream_decoded(
        self, parts: list[bytes], cuts: list[int]
    ) -> None:
        """Whatever bytes come and wherever chunks cut them, the events are those of the whole
        stream decoded at once with U+FFFD for every byte that is not UTF-8."""
        junk = b"".join(parts).replace(b"\r", b"").replace(b"\n", b"")
        data = b"event: x\ndata: " + junk + b'\n\nevent: update\ndata: {"id": "1"}\n\n'
        whole = data.decode("utf-8", errors="replace").encode("utf-8")
        assert list(parse_stream(split_at(data, cuts))) == list(parse_stream([whole]))


class TestDecodeEvent:
    @pytest.mark.parametrize(
        ("name", "data", "expected"),
        [
            ("delete", "109", StreamEvent("delete", "109")),
            ("delete", '"AbC9x"', StreamEvent("delete", "AbC9x")),
            ("announcement.delete", "3", StreamEvent("announcement.delete", "3")),
            ("filters_changed", "undefined", StreamEvent("filters_changed", None)),
            ("notifications_merged", "", StreamEvent("notifications_merged", None)),
            ("update", '{"id": "1"}', StreamEvent("update", {"id": "1"})),
            ("future.event", "[1, 2]", StreamEvent("future.event", [1, 2])),
        ],
    )
    def test_good_events(self, name: str, data: str, expected: StreamEvent) -> None:
        """Ids stay strings, empty events carry None, JSON events carry parsed JSON."""
        assert decode_event(name, data) == expected

    @pytest.mark.parametrize(
        ("name", "data", "reason"),
        [
            ("update", "{not json", "data is not JSON"),
            ("update", '"just a string"', "expected a JSON object with an id"),
            ("status.update", '{"no": "id"}', "expected a JSON object with an id"),
            ("delete", "", "expected a bare status id"),
            ("delete", "1 2", "expected a bare status id"),
            ("delete", '"unterminated', "id is a broken JSON string"),
            ("future.event", "<html>", "data is not JSON"),
        ],
    )
    def test_malformed_events(self, name: str, data: str, reason: str) -> None:
        """Data that does not fit its event's shape is reported with a reason and an excerpt."""
        result = decode_event(name, data)
        assert result == MalformedEvent(name, reason, data[:80])

    @pytest.mark.parametrize(
        "data",
        [
            '{"id": "1", "note": "\\ud83d alone"}',  # a lone surrogate, escaped
            '{"id": "1", "score": NaN}',
        ],
    )
    def test_what_json_accepts_is_accepted(self, data: str) -> None:
        """The fast decoder (orjson) is stricter than `json`; what `json` reads still arrives."""
        result = decode_event("update", data)
        assert isinstance(result, StreamEvent)
        assert repr(result.data) == repr(json.loads(data))

    def test_the_recorded_events_decode_as_json_decodes_them(self) -> None:
        """Every JSON event Mastodon 4.6.4 sent decodes to exactly what `json.loads` makes of it."""
        sse = [e for body in (USER, DIRECT) for e in SSEClient([body]).events() if e.data.startswith("{")]
        assert len(sse) == 7  # five on the user stream, two on the direct one
        for event in sse:
            decoded = decode_event(event.event, event.data)
            assert isinstance(decoded, StreamEvent)
            assert decoded.data == json.loads(event.data)
