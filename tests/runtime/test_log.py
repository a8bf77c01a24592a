"""Log lines: JSON or console, and a registered secret never in either, however it is written."""

from __future__ import annotations

import io
import json
import threading

import pytest
import structlog

from relay.log import REDACTED, configure_logging, lines_held, register_secret


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    yield
    structlog.reset_defaults()


def lines(
    level: str = "debug", *, as_json: bool = True
) -> tuple[io.StringIO, structlog.typing.FilteringBoundLogger]:
    out = io.StringIO()
    configure_logging(level, json=as_json, stream=out)
    return out, structlog.get_logger()


@pytest.mark.parametrize(
    "secret", ['tok"quote', "tok\\back", "tök-ünïcode-1", "tok\ttab-22", "plain-token-xyz"]
)
@pytest.mark.parametrize("as_json", [True, False])
def test_a_secret_is_redacted_however_it_is_escaped(secret: str, as_json: bool) -> None:
    """JSON escapes quotes, backslashes and control characters, a repr escapes more: each form goes."""
    register_secret(secret)
    out, log = lines(as_json=as_json)
    log.info("x", url=f"https://a.example/?t={secret}", nested={"h": [secret, (secret,)]}, other=repr(secret))
    try:
        raise ValueError(f"refused {secret}")
    except ValueError:
        log.exception("x.failed")
    text = out.getvalue()
    escaped = {
        secret,
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    assert not [form for form in escaped if form in text]
    assert text.count(REDACTED) >= 5


def test_json_lines_carry_every_value() -> None:
    """Values JSON has no type for still reach the line: exceptions by message, sets sorted, the rest by
    repr; an integer past 64 bits too (orjson refuses it, json's encoder writes it)."""
    out, log = lines()
    log.info("x", error=KeyError("k"), tags={"b", "a"}, big=2**70, obj=object, n=3, ok=True, none=None)
    [line] = [json.loads(text) for text in out.getvalue().splitlines()]
    assert line["error"] == "'k'"
    assert line["tags"] == ["a", "b"]
    assert line["big"] == 2**70
    assert line["obj"] == "<class 'object'>"
    assert (line["n"], line["ok"], line["none"], line["event"], line["level"]) == (
        3,
        True,
        None,
        "x",
        "info",
    )
    assert line["timestamp"].endswith("Z")


def test_levels_below_the_configured_one_are_dropped() -> None:
    out, log = lines("warning")
    log.info("quiet")
    log.warning("loud")
    assert [json.loads(text)["event"] for text in out.getvalue().splitlines()] == ["loud"]


class _CountedWrites(io.StringIO):
    """A stream that counts its writes and flushes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = self.flushes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


class TestLinesHeld:
    def test_each_line_is_written_and_flushed_at_once(self) -> None:
        out = _CountedWrites()
        configure_logging("info", json=True, stream=out)
        structlog.get_logger().info("one", n=1)
        assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["one"]
        assert (out.writes, out.flushes) == (1, 1)

    def test_held_lines_are_written_in_one_write_in_order_even_on_an_error(self) -> None:
        out = _CountedWrites()
        configure_logging("info", json=True, stream=out)
        log = structlog.get_logger()

        def callbacks() -> None:
            with lines_held():
                log.info("one")
                with lines_held():  # nested: the outer block writes
                    log.warning("two", secret_free=True)
                log.debug("filtered out")
                assert out.getvalue() == ""
                raise RuntimeError("a callback failed")

        with pytest.raises(RuntimeError):
            callbacks()
        assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["one", "two"]
        assert (out.writes, out.flushes) == (1, 1)
        log.info("three")  # after the block: written at once again
        assert out.getvalue().splitlines()[-1].startswith('{"event":"three"')

    def test_other_threads_write_at_once_while_one_holds(self) -> None:
        out = _CountedWrites()
        configure_logging("info", json=True, stream=out)
        log = structlog.get_logger()
        with lines_held():
            log.info("held")
            other = threading.Thread(target=lambda: log.info("from another thread"))
            other.start()
            other.join()
            assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == [
                "from another thread"
            ]
        assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == [
            "from another thread",
            "held",
        ]
