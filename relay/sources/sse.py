"""Server-sent events as Mastodon's streaming server frames them: bytes → `StreamEvent`s.

sseclient-py frames the stream (`event:` / `data:` lines, comments, heartbeats); `decode_event`
reads each event's data by its name (a bare status id for `delete`, a JSON object with an `id` for
`update` and the like, nothing for `filters_changed`) or says why it is malformed, so the stream
goes on without it. `parse_stream` is the reader's whole parse path, measured by
`bench/bench_stream.py`. No network here: `relay.sources.stream` reads the bytes.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sseclient import SSEClient

# Payload kinds by event name (Mastodon's streaming server, 4.x).
_ID_EVENTS = frozenset({"delete", "announcement.delete"})
_EMPTY_EVENTS = frozenset({"filters_changed", "notifications_merged"})
_OBJECT_EVENTS = frozenset(
    {
        "update",
        "status.update",
        "notification",
        "conversation",
        "announcement",
        "announcement.reaction",
        "encrypted_message",
    }
)
_EXCERPT = 80


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event from a stream: `data` is parsed JSON, the bare id for `delete`, or None."""

    name: str
    data: Any


@dataclass(frozen=True, slots=True)
class MalformedEvent:
    """An event that could not be understood; the stream goes on without it."""

    name: str
    reason: str
    excerpt: str


def decode_event(name: str, data: str) -> StreamEvent | MalformedEvent:
    """Turn one SSE event's name and data into a `StreamEvent`, or say why it is malformed."""
    if name in _ID_EVENTS:
        ident = data.strip()
        if ident.startswith('"'):  # some servers quote the id as a JSON string
            try:
                ident = json.loads(ident)
            except ValueError:
                return MalformedEvent(name, "id is a broken JSON string", data[:_EXCERPT])
        if not isinstance(ident, str) or not ident or any(c.isspace() for c in ident):
            return MalformedEvent(name, "expected a bare status id", data[:_EXCERPT])
        return StreamEvent(name, ident)
    if name in _EMPTY_EVENTS and data in ("", "undefined"):
        return StreamEvent(name, None)
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:  # json is more lenient (NaN, lone surrogates, huge numbers): accept what it accepts
            payload = json.loads(data)
        except ValueError:
            return MalformedEvent(name, "data is not JSON", data[:_EXCERPT])
    if name in _OBJECT_EVENTS and not (isinstance(payload, dict) and "id" in payload):
        return MalformedEvent(name, "expected a JSON object with an id", data[:_EXCERPT])
    return StreamEvent(name, payload)


def parse_stream(chunks: Iterable[bytes]) -> Iterator[StreamEvent | MalformedEvent]:
    """Parse SSE bytes, in chunks of any size, into events in order; comments are skipped.

    This is the reader's whole parse path, shared with `bench/bench_stream.py`.
    """
    for sse in SSEClient(_valid_utf8(chunks)).events():
        yield decode_event(sse.event, sse.data)


def _valid_utf8(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Replace bytes that are not UTF-8 with U+FFFD, as the SSE spec decodes a stream.

    sseclient-py decodes strictly and would end the whole stream at one bad byte. A character
    split between two chunks is kept whole by the incremental decoder. A chunk that is valid
    UTF-8 on its own (nearly every one) goes on as it is, without being decoded and encoded again.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = False  # the decoder holds the first bytes of a character split between chunks
    for chunk in chunks:
        if not pending:
            if chunk.isascii():
                yield chunk
                continue
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                yield chunk
                continue
        text = decoder.decode(chunk)
        pending = bool(decoder.getstate()[0])
        if text:
            yield text.encode("utf-8")
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail.encode("utf-8")
