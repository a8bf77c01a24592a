"""Server-sent events framing: bytes in, (event name, data bytes) out. No I/O, no JSON.

The text/event-stream format as the HTML standard defines it ("Parsing an event stream"), and as
sseclient-py 1.9 (which the relay used before) reads it, for the parts a Mastodon stream uses:

- lines end with CRLF, LF or CR, also when a chunk ends between the CR and the LF;
- a line starting with ``:`` is a comment (the ``:)`` greeting, the ``:thump`` heartbeat);
- ``field: value`` (one space after the colon is dropped) or ``field`` alone (empty value);
  ``data`` lines are joined with LF, the last ``event`` names the event (``message`` if none),
  ``id``, ``retry`` and unknown fields are ignored;
- a blank line ends the event; an event without any ``data`` line is not dispatched;
- what is left when the stream ends is taken as a last event (sseclient-py does so: an event
  whose blank line was lost still arrives; a cut one fails its JSON check and is reported).

Data stays bytes, so that a JSON decoder can read it without a copy to `str`; names are decoded
with U+FFFD for bytes that are not UTF-8 (LF and CR never occur inside a UTF-8 character, so
decoding line by line replaces exactly what decoding the whole stream would).

Why not sseclient-py any more: measured in the whole `relay run` process (bench/bench_process.py),
its framing (two passes of `splitlines`, a `str` decode and `split` per line, string
concatenation per line) and the UTF-8 repair it needed in front cost ~5 µs of a duplicate's
~29 µs; this costs ~1.5 µs. tests/test_stream_parse.py checks this against sseclient-py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

SSEvent = tuple[str, bytes]  # (event name, data)

_COLON = 58  # ":" as a byte


def sse_events(chunks: Iterable[bytes]) -> Iterator[SSEvent]:
    """The events in a byte stream cut into chunks of any size, in order, as soon as each is whole.

    Lines are found with `bytes.find` of one byte (memchr): scanning for a two-byte blank line
    or splitting the ~2 KB data line walks it byte by byte, several times slower."""
    name = b""  # the event being read: its last `event` value,
    data: list[bytes] = []  # and its `data` values
    parts: list[bytes] = []  # the beginning of a line that has not ended yet
    held = b""  # a CR that ended the last chunk: its LF may begin the next one
    for chunk in chunks:
        if held:
            chunk, held = held + chunk, b""
        if b"\r" in chunk:  # Mastodon never sends CR; a proxy might
            if chunk.endswith(b"\r"):
                chunk, held = chunk[:-1], b"\r"
            chunk = _lf_only(chunk)
        if parts:
            parts.append(chunk)
            if b"\n" not in chunk:
                continue  # the line goes on: keep its parts, without copying them again
            chunk, parts = b"".join(parts), []
        find, startswith = chunk.find, chunk.startswith
        pos, nl = 0, find(b"\n")
        while nl >= 0:
            if nl == pos:  # a blank line: the event is whole
                if data:
                    yield _whole(name, data)
                name, data = b"", []
            elif startswith(b"data: ", pos):
                data.append(chunk[pos + 6 : nl])
            elif startswith(b"event: ", pos):
                name = chunk[pos + 7 : nl]
            elif chunk[pos] != _COLON:  # not a comment: another field, or a field written otherwise
                name, data = _field(chunk[pos:nl], name, data)
            pos, nl = nl + 1, find(b"\n", nl + 1)
        if pos < len(chunk):
            parts = [chunk[pos:]]
    if held:
        parts.append(b"")  # a lone CR at the very end ended the last line
    if parts:
        line = b"".join(parts)
        if line and line[0] != _COLON:
            name, data = _field(line, name, data)
    if data:
        yield _whole(name, data)


def _field(line: bytes, name: bytes, data: list[bytes]) -> tuple[bytes, list[bytes]]:
    """`field: value`, `field:value` or `field` alone: the event's name and data after it."""
    field, _, value = line.partition(b":")
    if value[:1] == b" ":
        value = value[1:]
    if field == b"data":
        data.append(value)
    elif field == b"event":
        name = value
    return name, data


def _whole(name: bytes, data: list[bytes]) -> SSEvent:
    return (name.decode("utf-8", errors="replace") if name else "message"), (
        data[0] if len(data) == 1 else b"\n".join(data)
    )


def _lf_only(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
