"""`relay status`: the real process summarises a relay's database, read-only, in text and JSON."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from relayproc import run_relay
from storehelp import arrive

from relay.cli.status import format_age
from relay.core.lifecycle import Event
from relay.core.verdict import Decision, Reason, Verdict
from relay.store.store import Store

HOME = "127.0.0.1:7001"
SOURCE = "127.0.0.1:7002"
GONE = "old.example"  # delivered posts once, no longer in relay.toml

ACCEPT = Verdict(Decision.ACCEPT)
HOLD = Verdict(Decision.HOLD, (Reason("new_account", Decision.HOLD, "account is 2 days old"),))
REJECT = Verdict(
    Decision.REJECT,
    (
        Reason("blocklist", Decision.REJECT, "word: casino"),
        Reason("links", Decision.HOLD, "4 links"),
    ),
)


def status(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m relay status -c CONFIG ...` and return what it printed."""
    return run_relay("status", "-c", str(config), *args)


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A relay.toml with a home and one more source; the state file beside it."""
    path = tmp_path / "relay.toml"
    path.write_text(
        'hashtags = ["TherapistsConnect"]\nstate = "relay.sqlite3"\n'
        f'[home]\nurl = "http://{HOME}"\ntoken_file = "home.token"\n'
        f'[[sources]]\nurl = "http://{SOURCE}"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def day(config: Path, now: datetime) -> Path:
    """A state file after a day: sightings, verdicts, holds, boosts (one left open), a pause."""
    path = config.parent / "relay.sqlite3"
    with Store.open(path) as s:
        for i, verdict in enumerate([ACCEPT, ACCEPT, ACCEPT, HOLD, HOLD, REJECT]):
            uri = f"https://{HOME}/statuses/{i}"
            arrive(s, uri, source=HOME, acct=f"a{i}@{HOME}", url=uri, edited_at=None, text_fingerprint=str(i))
            s.statistics.record_source_event(HOME, now - timedelta(seconds=30))
            s.posts.record_verdict(uri, verdict, now - timedelta(minutes=10))
        s.statistics.record_source_event(SOURCE, now - timedelta(minutes=5))
        s.statistics.record_source_event(GONE, now - timedelta(days=3))
        s.queue.hold(f"https://{HOME}/statuses/3", HOLD, now)
        s.queue.hold(f"https://{HOME}/statuses/4", HOLD, now)
        s.queue.move("h2", Event.REJECT, "mod@therapists.example", "spam", now)
        for i in (0, 1):
            s.boosts.boost_intent(f"https://{HOME}/statuses/{i}", str(i), now - timedelta(minutes=9))
            s.boosts.boost_done(f"https://{HOME}/statuses/{i}", f"r{i}", now - timedelta(minutes=9))
        s.boosts.boost_intent(f"https://{HOME}/statuses/2", "2", now - timedelta(minutes=2))
        s.settings.set_paused(True, "mod@therapists.example", now)
    return path


class TestStatusProcess:
    def test_json_figures(self, config: Path, day: Path, now: datetime) -> None:
        """--json reports queue, verdicts, reasons, boosts, pause, sources and the open intent."""
        result = status(config, "--json")
        assert result.returncode == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        assert data["paused"] is True
        assert data["queue_length"] == 1
        assert data["boosts_24h"] == 2
        assert data["verdicts_24h"] == {"accept": 3, "hold": 2, "reject": 1}
        assert data["reasons_24h"] == {"new_account": 2, "blocklist": 1, "links": 1}
        sources = {s["name"]: s for s in data["sources"]}
        assert [s["name"] for s in data["sources"]] == [HOME, SOURCE, GONE]
        same_day = datetime.fromisoformat(data["now"]).date() == (now - timedelta(minutes=5)).date()
        assert sources[HOME]["today"] == (6 if same_day else 0)
        assert sources[SOURCE]["today"] == (1 if same_day else 0)
        assert sources[GONE]["today"] == 0
        assert sources[GONE]["configured"] is False
        assert 30 <= sources[HOME]["last_event_age"] < 30 + 60
        assert 3 * 86400 <= sources[GONE]["last_event_age"] < 3 * 86400 + 60
        assert [(i["kind"], i["uri"]) for i in data["open_intents"]] == [
            ("boost", f"https://{HOME}/statuses/2")
        ]

    def test_text_summary(self, config: Path, day: Path) -> None:
        """The text output names the pause, the queue, the day's figures, each source and the intent."""
        result = status(config)
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "PAUSED" in out
        assert "1 held for review" in out
        assert "2 boosted; screened: 3 accepted, 2 held, 1 rejected" in out
        assert "new_account 2, blocklist 1, links 1" in out
        assert f"{GONE}" in out
        assert "(no longer configured)" in out
        assert "boost journal: 1 open" in out
        assert f"https://{HOME}/statuses/2" in out

    def test_readable_while_the_relay_holds_the_database_open(self, config: Path, now: datetime) -> None:
        """A writer with the database open (as a running relay) does not stop status from reading it."""
        with Store.open(config.parent / "relay.sqlite3") as writer:
            writer.statistics.record_source_event(HOME, now)
            result = status(config, "--json")
            writer.statistics.record_source_event(HOME, now)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["paused"] is False

    def test_missing_database_exits_2(self, config: Path) -> None:
        """Without a state file, status says so and exits 2 without creating one."""
        result = status(config)
        assert result.returncode == 2
        assert "no relay state file" in result.stderr
        assert not (config.parent / "relay.sqlite3").exists()


class TestFormatAge:
    @pytest.mark.parametrize(
        ("seconds", "text"), [(0, "0s"), (59.9, "59s"), (600, "10m"), (12_000, "3h20m"), (190_800, "2d5h")]
    )
    def test_short_ages(self, seconds: float, text: str) -> None:
        """Ages read at a glance: seconds, minutes, hours and minutes, days and hours."""
        assert format_age(seconds) == text


class TestAnchors:
    def test_anchors_with_replies_seen_and_boosted(self, config: Path, day: Path) -> None:
        """Each configured anchor is listed with its replies seen and boosted now; an anchor whose
        replies are stored but which left relay.toml is listed as no longer configured."""
        anchor = f"http://{SOURCE}/@founder/100"
        old = f"http://{SOURCE}/@founder/50"
        with config.open("a", encoding="utf-8") as f:
            f.write(f'[[anchors]]\nurl = "{anchor}"\nreplies = "thread"\n')
        with Store.open(day) as s:
            s.anchors.link(f"https://{HOME}/statuses/0", anchor)  # boosted (see `day`)
            s.anchors.link(f"https://{HOME}/statuses/5", anchor)  # rejected
            s.anchors.link(f"https://{HOME}/statuses/1", old)
        data = json.loads(status(config, "--json").stdout)
        listed = [
            (a["url"], a["replies_scope"], a["configured"], a["replies"], a["boosted"])
            for a in data["anchors"]
        ]
        assert listed == [(anchor, "thread", True, 2, 1), (old, "", False, 1, 1)]
        out = status(config).stdout
        assert f"  {anchor}      2 seen      1 boosted  (thread replies, read every 60 s)" in out
        assert "(no longer configured)" in out.split("anchor posts")[1]


def test_how_each_source_is_read(config: Path, now: datetime) -> None:
    """The running relay's report names each source's method, shape, poll interval and reason."""
    report = {
        "at": now.timestamp(),
        "streams": [{"name": f"{HOME} ws #TherapistsConnect", "connected": True, "last_event_age": 1.0}],
        "sources": [
            {
                "source": HOME,
                "method": "websocket",
                "shape": "multiplexed",
                "reason": "WebSocket, one socket for every hashtag: pleroma 2.7 multiplexes",
                "interval": None,
            },
            {
                "source": SOURCE,
                "method": "rest",
                "shape": "poll",
                "reason": "REST polling: no token",
                "interval": 60,
            },
        ],
    }
    with Store.open(config.parent / "relay.sqlite3") as s:
        s.settings.set_setting("relay.streams", json.dumps(report))
    out = status(config).stdout
    assert f"  {HOME}  websocket (multiplexed): WebSocket, one socket" in out
    assert f"  {SOURCE}  rest (poll) every 1m: REST polling: no token" in out
