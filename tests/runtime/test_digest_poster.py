"""The digest poster (relay.runtime.digest) against the sandbox: what it says from a real store (new
members named), what a refusal and an unsure post do, and the test clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import storehelp
from mastodon import Mastodon

from relay.config.load import DigestConfig
from relay.core.digest import Period
from relay.core.lifecycle import JournalState
from relay.errors import ConfigError
from relay.runtime.digest import CLOCK_ENV, DigestPoster, digest_clock, facts, max_characters
from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.store.records import MemberAccount
from relay.store.store import Store

DUE = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday
WEEK = Period(DUE - timedelta(days=7), DUE)
TUESDAY = DUE - timedelta(days=6)


@pytest.fixture
def home() -> Iterator[Instance]:
    with Fediverse(["home"]) as fed:
        yield fed["home"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "state.sqlite3") as opened:
        yield opened


def boosted(store: Store, acct: str, n: int, at: datetime = TUESDAY) -> None:
    storehelp.boosted(store, f"https://{acct.partition('@')[2]}/s/{n}", acct, at)


def joined(store: Store, acct: str, at: datetime = TUESDAY) -> None:
    account = MemberAccount(acct, f"https://x/{acct}", None, acct.partition("@")[0], "")
    store.members.join(account, actor=acct, now=at)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.mono = 0.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono


def poster(home: Instance, bot: SeededAccount, store: Store, clock: Clock) -> DigestPoster:
    api = Mastodon(access_token=bot.token, api_base_url=home.url)
    return DigestPoster(
        api,
        store,
        DigestConfig(enabled=True),
        hashtags=("TherapistsConnect",),
        me_id=bot.id,
        clock=clock,
        monotonic=clock.monotonic,
    )


def due_with_a_failure(
    home: Instance, store: Store, status: int
) -> tuple[SeededAccount, Clock, DigestPoster]:
    """A bot, a boost in the week, the clock just past Monday 09:00, and the next post answered
    with `status`."""
    bot = home.create_account("relaybot", bot=True)
    boosted(store, "ann@a.example", 1)
    clock = Clock(DUE + timedelta(seconds=1))
    home.fail_next(1, status=status, path_prefix="/api/v1/statuses")
    return bot, clock, poster(home, bot, store, clock)


def bot_statuses(home: Instance, bot: SeededAccount) -> list[str]:
    with home.lock:
        return [s.text for s in home.state.statuses.values() if s.account.id == bot.id]


class TestFacts:
    def test_new_members_of_the_week_are_named_and_nobody_else(self, store: Store) -> None:
        """Members who joined in the period and are still listed are the digest's new members; one
        who joined before, or who left again, is not."""
        boosted(store, "ann@a.example", 1)
        joined(store, "cat@c.example")
        joined(store, "old@o.example", at=WEEK.start - timedelta(hours=1))
        joined(store, "gone@g.example")
        store.members.leave("gone@g.example", "leave", actor="gone@g.example", now=TUESDAY)
        said = facts(store, WEEK)
        assert said.new_members == ("cat@c.example",)
        assert said.boosted_authors == ("ann@a.example",)


class TestPoster:
    def test_posts_once_when_due_and_names_the_new_member(self, home: Instance, store: Store) -> None:
        """Before Monday 09:00 nothing; at it one status, with the new member mentioned; ticking on
        posts nothing more."""
        bot = home.create_account("relaybot", bot=True)
        boosted(store, "ann@a.example", 1)
        joined(store, "cat@c.example")
        clock = Clock(DUE - timedelta(minutes=1))
        digest = poster(home, bot, store, clock)
        digest.tick()
        assert bot_statuses(home, bot) == []
        clock.now = DUE + timedelta(seconds=1)
        digest.tick()
        digest.tick()
        (text,) = bot_statuses(home, bot)
        assert text.endswith("New in the directory, welcome!\n@cat@c.example")
        record = store.digests.get(DUE)
        assert record is not None
        assert record.state is JournalState.DONE

    def test_a_refused_post_is_failed_and_not_tried_again(self, home: Instance, store: Store) -> None:
        """A 422 from the home instance records the digest as failed with the server's words."""
        bot, clock, digest = due_with_a_failure(home, store, 422)
        digest.tick()
        clock.mono += 10_000
        digest.tick()
        record = store.digests.get(DUE)
        assert record is not None
        assert record.state is JournalState.FAILED
        assert record.error is not None
        assert record.error.startswith("HTTP 422")
        assert bot_statuses(home, bot) == []

    def test_an_unsure_post_is_reconciled_then_retried_after_a_backoff(
        self, home: Instance, store: Store
    ) -> None:
        """A 503 leaves the intent open; nothing is tried before the backoff; then the bot's statuses
        are read first and the digest posted once."""
        bot, clock, digest = due_with_a_failure(home, store, 503)
        digest.tick()
        record = store.digests.get(DUE)
        assert record is not None
        assert record.state is JournalState.INTENT
        before = len(home.requests)
        digest.tick()
        assert len(home.requests) == before  # within the backoff: no request at all
        clock.mono += 3600.0
        digest.tick()
        paths = [r.path for r in home.requests[before:]]
        assert paths == [f"/api/v1/accounts/{bot.id}/statuses", "/api/v1/statuses"]
        assert len(bot_statuses(home, bot)) == 1

    def test_an_intent_found_too_late_is_failed_not_posted(self, home: Instance, store: Store) -> None:
        """An intent left open more than a day past its moment (the relay was down) is not posted
        days late: it is recorded as failed."""
        bot = home.create_account("relaybot", bot=True)
        store.digests.intent(WEEK, ["#TherapistsConnect weekly digest, 30 Nov – 7 Dec 2026\n\n1 post"])
        digest = poster(home, bot, store, Clock(DUE + timedelta(days=3)))
        digest.tick()
        record = store.digests.get(DUE)
        assert record is not None
        assert record.state is JournalState.FAILED
        assert bot_statuses(home, bot) == []


def test_the_test_clock_reads_its_file(tmp_path: Path) -> None:
    """RELAY_DIGEST_CLOCK_FILE makes the digest's now the time in that file; a bad one is an error."""
    path = tmp_path / "clock"
    path.write_text("2026-12-07T09:00:01+00:00\n", encoding="utf-8")
    clock = digest_clock({CLOCK_ENV: str(path)})
    assert clock() == DUE + timedelta(seconds=1)
    path.write_text("next monday", encoding="utf-8")
    with pytest.raises(ConfigError, match="not an ISO time"):
        clock()
    assert digest_clock({})().tzinfo is UTC


def test_max_characters_of_an_instance() -> None:
    """The instance's statuses.max_characters, else Mastodon's 500."""
    assert max_characters({"configuration": {"statuses": {"max_characters": 5000}}}) == 5000
    assert max_characters({"configuration": {}}) == 500
    assert max_characters(None) == 500
