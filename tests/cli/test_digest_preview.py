"""`relay digest --preview`: the real process prints the coming digest from the state file, posting
nothing, within the home instance's character limit."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from relayproc import relay_env
from storehelp import boosted

from relay.runtime.digest import CLOCK_ENV
from relay.sandbox import Fediverse, Instance
from relay.store.store import Store

NOW = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)  # a Wednesday: the week ends on Monday 14 Dec, 09:00


@pytest.fixture
def home() -> Iterator[Instance]:
    with Fediverse(["home"]) as fed:
        yield fed["home"]


def setup(tmp_path: Path, home_url: str, authors: list[str]) -> Path:
    """A relay.toml and a state file where each of `authors` had a post boosted on Tuesday."""
    config = tmp_path / "relay.toml"
    config.write_text(
        f'hashtags = ["TherapistsConnect"]\nstate = "relay.sqlite3"\n[home]\nurl = "{home_url}"\n'
        '[digest]\nday = "mon"\nhour = 9\ntimezone = "Europe/London"\n',
        encoding="utf-8",
    )
    tuesday = NOW - timedelta(days=1)
    with Store.open(tmp_path / "relay.sqlite3") as store:
        for i, acct in enumerate(authors):
            boosted(store, f"https://{acct.partition('@')[2]}/s/{i}", acct, tuesday)
    (tmp_path / "clock.txt").write_text(NOW.isoformat(), encoding="utf-8")
    return config


def preview(tmp_path: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**relay_env(), CLOCK_ENV: str(tmp_path / "clock.txt")}
    return subprocess.run(
        [sys.executable, "-m", "relay", "--log-level", "error", "digest", "--preview", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def test_preview_prints_the_week_so_far_and_posts_nothing(tmp_path: Path, home: Instance) -> None:
    """Two posts boosted this week: the preview shows the period in the configured zone, the
    digest's text with its length against the instance's limit, and says it is off; nothing is
    posted on the home instance."""
    config = setup(tmp_path, home.url, ["ann@a.example", "bob@b.example"])
    before = len(home.state.statuses)
    done = preview(tmp_path, config)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Weekly digest off ([digest] enabled = false)" in out
    assert "Period: Mon 07 Dec 2026 09:00 to Mon 14 Dec 2026 09:00 (Europe/London), so far" in out
    assert "--- status 1 of 1 (" in out
    assert "of 500 characters) ---" in out
    assert "#TherapistsConnect weekly digest, 7 Dec – 14 Dec 2026\n\n2 posts boosted, from 2 people" in out
    assert len(home.state.statuses) == before


def test_a_long_preview_is_split_and_an_empty_one_says_so(tmp_path: Path, home: Instance) -> None:
    """Sixty servers make a thread of numbered statuses; a week with nothing says nothing is posted."""
    config = setup(tmp_path, home.url, [f"user{i}@server-number-{i:02d}.example" for i in range(60)])
    out = preview(tmp_path, config).stdout
    assert "--- status 2 of " in out
    assert "weekly digest, 7 Dec – 14 Dec 2026 (2/" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    config = setup(empty, home.url, [])
    done = preview(empty, config)
    assert done.returncode == 0
    assert "nothing would be posted" in done.stdout
