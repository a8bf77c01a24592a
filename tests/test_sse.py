"""relay.sources.sse: SSE framing, checked against sseclient-py (which the relay used before)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from hypothesis import given
from hypothesis import strategies as st
from sseclient import SSEClient

from relay.sources.sse import sse_events

CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\r\n")  # text that encodes
LINES = st.one_of(
    st.just(""),  # a blank line: the end of an event
    st.sampled_from([":)", ":thump", ":", "event", "data", "data:", "id: 7", "retry: 100", "bogus: x"]),
    st.builds(lambda v: f"data: {v}", st.text(CHARS, max_size=8)),
    st.builds(lambda v: f"data:{v}", st.text(CHARS, max_size=8)),
    st.builds(lambda v: f"event: {v}", st.text(CHARS, max_size=8)),
    st.builds(lambda v: f"event:{v}", st.sampled_from(["update", "delete", " x", ""])),
    st.text(CHARS, max_size=6),  # anything else
)


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in itertools.pairwise([0, *points, len(data)])]


def theirs(chunks: list[bytes]) -> list[tuple[str, str]]:
    return [(e.event, e.data) for e in SSEClient(iter(chunks)).events()]


def ours(chunks: list[bytes]) -> list[tuple[str, str]]:
    return [(name, data.decode("utf-8")) for name, data in sse_events(chunks)]


class TestAgainstSseclient:
    @given(
        st.lists(LINES, max_size=30),
        st.sampled_from(["\n", "\r\n", "\r"]),
        st.booleans(),
        st.lists(st.integers(min_value=0), max_size=10),
    )
    def test_same_events_however_the_stream_is_cut(
        self, lines: list[str], end: str, ended: bool, cuts: list[int]
    ) -> None:
        """Any stream of lines (one line ending throughout, ended by a blank line or not), cut
        into chunks anywhere, gives the events sseclient-py gives, names and data alike."""
        data = (end.join(lines) + (end * 2 if ended else "")).encode()
        chunks = cut(data, cuts)
        assert ours(chunks) == theirs(chunks)


class TestFraming:
    def test_a_mastodon_stream(self) -> None:
        """Greeting, events and heartbeats as Mastodon writes them, one chunk per write."""
        chunks = [b":)\n", b'event: update\ndata: {"id":"1"}\n\n', b":thump\n", b"event: delete\ndata: 1\n\n"]
        assert list(sse_events(chunks)) == [("update", b'{"id":"1"}'), ("delete", b"1")]

    def test_an_event_is_handed_on_as_soon_as_it_is_whole(self) -> None:
        """The event comes out when its blank line arrives, without waiting for more bytes."""

        def stream() -> Iterator[bytes]:
            yield b"data: a\n"
            yield b"\n"
            raise AssertionError("read on past a whole event")

        assert next(sse_events(stream())) == ("message", b"a")

    def test_a_blank_line_split_between_chunks(self) -> None:
        """The LF ending an event may come in the chunk after the one with the last line's LF."""
        events = sse_events([b"data: a\n", b"\ndata: b\n", b"\n"])
        assert list(events) == [("message", b"a"), ("message", b"b")]

    def test_crlf_split_between_chunks(self) -> None:
        """A CR at a chunk's end and its LF in the next make one line end, not two."""
        assert list(sse_events([b"data: a\r", b"\ndata: b\r\n\r", b"\n"])) == [("message", b"a\nb")]

    def test_bytes_that_are_not_utf8_stay_in_the_data_and_are_replaced_in_names(self) -> None:
        """Data is handed on as bytes (the JSON decoder sees what was sent); a name is text."""
        assert list(sse_events([b"event: up\xffdate\ndata: \xff\n\n"])) == [("up\ufffddate", b"\xff")]

    def test_what_is_left_at_the_end_is_a_last_event(self) -> None:
        """An event whose blank line never came still arrives when the stream ends (as sseclient-py)."""
        assert list(sse_events([b"event: update\ndata: 1\n"])) == [("update", b"1")]

    def test_a_long_event_in_many_small_chunks(self) -> None:
        """A 1 MB event read 1 KiB at a time comes out whole (kept as parts, not copied each time)."""
        data = b"data: " + b"x" * 1_000_000 + b"\n\n"
        chunks = [data[i : i + 1024] for i in range(0, len(data), 1024)]
        assert list(sse_events(chunks)) == [("message", b"x" * 1_000_000)]
