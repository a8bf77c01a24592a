"""`relay queue` and `relay audit`: the real processes read a relay's database, read-only."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from relayproc import run_relay
from storehelp import arrive

from relay.cli.audit import parse_since
from relay.core.lifecycle import Event
from relay.core.verdict import Decision, Reason, Verdict
from relay.errors import InputError
from relay.store.store import Store

HOME = "127.0.0.1:7001"
MOD = "mira@therapists.example"
HOLD = Verdict(
    Decision.HOLD,
    (Reason("links", Decision.HOLD, "4 links"), Reason("mode", Decision.HOLD, "review mode")),
)


def relay(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m relay ARGS -c CONFIG` and return what it printed."""
    return run_relay(args[0], "-c", str(config), *args[1:])


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "relay.toml"
    path.write_text(
        f'hashtags = ["TherapistsConnect"]\n[home]\nurl = "http://{HOME}"\ntoken_file = "home.token"\n',
        encoding="utf-8",
    )
    return path


def uri(i: int) -> str:
    return f"http://{HOME}/users/a{i}/statuses/{i}"


@pytest.fixture
def state(config: Path, now: datetime) -> Path:
    """Three held posts (held 3 days, 2 hours and 1 minute ago); a moderator rejected the middle one."""
    path = config.parent / "relay.sqlite3"
    with Store.open(path) as s:
        for i, age in enumerate([timedelta(days=3), timedelta(hours=2), timedelta(minutes=1)], 1):
            arrive(
                s,
                uri(i),
                source=HOME,
                acct=f"a{i}@{HOME}",
                url=f"http://{HOME}/@a{i}/{i}",
                edited_at=None,
                text_fingerprint=str(i),
                now=now - age,
            )
            s.queue.hold(uri(i), HOLD, now - age)
        s.queue.move("h2", Event.REJECT, MOD, "selling followers", now - timedelta(hours=1))
        s.settings.set_paused(True, MOD, now - timedelta(minutes=30))
    return path


class TestQueue:
    def test_table_lists_held_posts_oldest_first(self, config: Path, state: Path) -> None:
        """The table shows each held post's id, age, author, link and reasons, oldest first."""
        result = relay(config, "queue")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert out.index("h1 ") < out.index("h3 ")
        assert "h2 " not in out  # rejected: no longer waiting
        assert "3d0h ago" in out
        assert f"a1@{HOME}" in out
        assert f"http://{HOME}/@a3/3" in out
        assert "links: 4 links" in out
        assert "2 posts wait for review" in out

    def test_json(self, config: Path, state: Path) -> None:
        """--json gives ids, authors, links, ages and every reason."""
        result = relay(config, "queue", "--json")
        assert result.returncode == 0, result.stderr
        items = json.loads(result.stdout)
        assert [i["id"] for i in items] == ["h1", "h3"]
        assert items[0]["author"] == f"a1@{HOME}"
        assert items[0]["announced"] is False
        assert 3 * 86400 <= items[0]["age_seconds"] < 3 * 86400 + 60
        assert [r["rule"] for r in items[1]["reasons"]] == ["links", "mode"]

    def test_empty_queue(self, config: Path) -> None:
        """An empty queue says so."""
        with Store.open(config.parent / "relay.sqlite3"):
            pass
        result = relay(config, "queue")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "Nothing waits for review."

    def test_missing_database_exits_2(self, config: Path) -> None:
        """Without a state file the command says so and exits 2."""
        result = relay(config, "queue")
        assert result.returncode == 2
        assert "no relay state file" in result.stderr


class TestAudit:
    def test_table_shows_every_row(self, config: Path, state: Path) -> None:
        """The table shows holds by relay and the moderator's reject with its reason, in order."""
        result = relay(config, "audit")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0].split()[:4] == ["AT", "(UTC)", "ACTOR", "ACTION"]
        actions = [line.split()[3] for line in lines[1:]]
        assert actions == ["queue.held", "queue.held", "queue.held", "queue.rejected", "pause"]
        rejected = next(line for line in lines if "queue.rejected" in line)
        assert MOD in rejected
        assert "selling followers" in rejected
        assert f"<{uri(2)}>" in rejected

    def test_filters_by_actor_post_and_time(self, config: Path, state: Path) -> None:
        """--actor, --post (uri or review id) and --since narrow the rows; --json prints JSON lines."""
        by_mod = [json.loads(x) for x in relay(config, "audit", "--actor", MOD, "--json").stdout.splitlines()]
        assert [r["action"] for r in by_mod] == ["queue.rejected", "pause"]
        assert by_mod[0]["detail"] == "selling followers"
        by_id = [json.loads(x) for x in relay(config, "audit", "--post", "h2", "--json").stdout.splitlines()]
        assert [r["action"] for r in by_id] == ["queue.held", "queue.rejected"]
        by_uri = relay(config, "audit", "--post", uri(2), "--json").stdout.splitlines()
        assert [json.loads(x) for x in by_uri] == by_id
        recent = [
            json.loads(x) for x in relay(config, "audit", "--since", "90m", "--json").stdout.splitlines()
        ]
        assert [r["action"] for r in recent] == ["queue.held", "queue.rejected", "pause"]

    def test_unknown_review_id_exits_2(self, config: Path, state: Path) -> None:
        """--post with a review id that does not exist names the fix and exits 2."""
        result = relay(config, "audit", "--post", "h99")
        assert result.returncode == 2
        assert "relay queue" in result.stderr

    def test_bad_since_exits_2(self, config: Path, state: Path) -> None:
        """--since that is neither an age nor a date is refused with examples."""
        result = relay(config, "audit", "--since", "yesterday")
        assert result.returncode == 2
        assert "12h" in result.stderr


class TestParseSince:
    def test_ages_and_dates(self) -> None:
        """Ages count back from now; dates without a zone are UTC."""
        now = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
        assert parse_since("30m", now) == now - timedelta(minutes=30)
        assert parse_since("7d", now) == now - timedelta(days=7)
        assert parse_since("2026-07-31", now) == datetime(2026, 7, 31, tzinfo=UTC)
        assert parse_since("2026-07-31T14:00+02:00", now) == datetime(2026, 7, 31, 12, tzinfo=UTC)
        with pytest.raises(InputError):
            parse_since("last week", now)
