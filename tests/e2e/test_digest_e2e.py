"""End to end: the weekly digest posted by the real `relay run` on the sandbox, once per period,
also across a `kill -9` at the worst moments, and not at all for a week with nothing to say.

The week passes by the digest's test clock (`RELAY_DIGEST_CLOCK_FILE`): the test writes the time
the relay's digest takes as now, and never waits for a wall-clock hour.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mastodon import Mastodon
from relayproc import HASHTAG, RelayProcess, connected_relay, wait_for
from test_moderation_e2e import Person, bot_handle

from relay.core.digest import Schedule
from relay.core.lifecycle import JournalState
from relay.runtime.digest import CLOCK_ENV
from relay.sandbox import Fediverse, SeededAccount
from relay.store.store import Store

DIGEST = '[digest]\nenabled = true\nday = "mon"\nhour = 9\ntimezone = "UTC"\n'
HEADER = f"#{HASHTAG} weekly digest"


@pytest.fixture
def fed() -> Iterator[Fediverse]:
    """Home and remote instances with quick heartbeats."""
    with Fediverse(["home", "remote"], heartbeat=0.5) as fediverse:
        yield fediverse


@pytest.fixture
def bot(fed: Fediverse) -> SeededAccount:
    return fed["home"].create_account("relaybot", bot=True, display_name="TherapistsConnect relay")


class Clock:
    """The digest's clock: a file the relay reads; `due` is the first Monday 09:00 UTC to come."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "digest-clock.txt"
        self.due = Schedule(0, 9, UTC).next(datetime.now(UTC))
        self.set(self.due - timedelta(hours=1))  # nothing due: the last Monday passed long ago

    def set(self, when: datetime) -> None:
        """Move the clock: a new file renamed over the old, so the relay never reads half of it."""
        fresh = self.path.with_suffix(".new")
        fresh.write_text(when.isoformat(), encoding="utf-8")
        fresh.replace(self.path)

    @property
    def env(self) -> dict[str, str]:
        return {CLOCK_ENV: str(self.path)}


def digests_posted(fed: Fediverse, bot: SeededAccount) -> list[str]:
    """The texts of the digests the bot has on its home instance."""
    state = fed["home"].state
    with state.lock:
        account = state.local_account(bot.username)
        return [s.text for s in state.statuses.values() if s.account is account and s.text.startswith(HEADER)]


def digest_state(relay: RelayProcess, end: datetime) -> JournalState | None:
    with Store.open(relay.state, readonly=True) as store:
        record = store.digests.get(end)
    return None if record is None else record.state


def post(fed: Fediverse, instance: str, account: SeededAccount, text: str) -> dict:
    return dict(Mastodon(access_token=account.token, api_base_url=fed[instance].url).status_post(text))


@pytest.mark.parametrize("stage", ["before", "after"])
def test_the_digest_is_posted_once_across_a_kill_9_at_its_post(
    tmp_path: Path, fed: Fediverse, bot: SeededAccount, stage: str
) -> None:
    """Three posts boosted in the week; at Monday 09:00 the relay writes the digest's intent and
    posts it; it is killed with SIGKILL while that post is on its way (`before`: the post never
    reached the server; `after`: the server made it and the answer was lost). After the restart the
    bot has exactly one digest for the week, naming nobody, and the store has it done. A week later,
    with nothing boosted, nothing is posted."""
    clock = Clock(tmp_path)
    bob = fed["remote"].create_account("bob")
    carol = fed["home"].create_account("carol")
    with connected_relay(tmp_path, fed, bot, extra=DIGEST, env=clock.env) as relay:
        statuses = [
            post(fed, "remote", bob, f"Hello from Leeds #{HASHTAG}"),
            post(fed, "remote", bob, f"A second post #{HASHTAG}"),
            post(fed, "home", carol, f"Hello from Bristol #{HASHTAG}"),
        ]
        for status in statuses:
            relay.wait_boosted(status["uri"])
        gate = fed["home"].gate("POST", "/api/v1/statuses", stage=stage)
        clock.set(clock.due + timedelta(minutes=1))
        assert gate.arrived.wait(15), "the digest was not posted"
        assert digest_state(relay, clock.due) is JournalState.INTENT
        relay.kill()
        gate.release()
    assert len(digests_posted(fed, bot)) == (1 if stage == "after" else 0)
    with RelayProcess(tmp_path, fed, bot, extra=DIGEST, env=clock.env) as again:
        found = again.wait_log("digest.reconciled")
        assert found["found"] == (1 if stage == "after" else 0)
        wait_for(lambda: digest_state(again, clock.due) is JournalState.DONE, what="the digest done")
        (text,) = digests_posted(fed, bot)
        assert "3 posts boosted, from 2 people on 2 servers:" in text
        assert f"• {fed['remote'].domain} (2)" in text
        assert "@" not in text  # nobody is named: no author, no new member this week
        clock.set(clock.due + timedelta(days=7, minutes=1))
        again.wait_log("digest.nothing_to_say")
        assert digest_state(again, clock.due + timedelta(days=7)) is JournalState.DONE
        assert len(digests_posted(fed, bot)) == 1
        again.stop()


def test_the_digest_welcomes_who_joined_the_directory_that_week(
    tmp_path: Path, fed: Fediverse, bot: SeededAccount
) -> None:
    """Dana DMs the bot `join` and Bob posts; at Monday 09:00 the digest counts Bob's post without
    naming him and welcomes Dana by mention, who gets it as a notification."""
    clock = Clock(tmp_path)
    handle = bot_handle(fed, bot)
    dana = Person(fed["remote"], fed["remote"].create_account("dana"), bot, handle)
    fed["remote"].follow(dana.account, handle)  # so that the bot's answers reach her server
    bob = fed["remote"].create_account("bob")
    with connected_relay(
        tmp_path, fed, bot, extra=DIGEST, env=clock.env, moderation='dm_policy = "accept"'
    ) as relay:
        relay.wait_log("mentions.fetched")
        asked = dana.dm("join")
        dana.wait_reply(asked, "Welcome")
        relay.wait_boosted(post(fed, "remote", bob, f"Hello from Leeds #{HASHTAG}")["uri"])
        clock.set(clock.due + timedelta(minutes=1))
        wait_for(lambda: digests_posted(fed, bot), what="the digest")
        (text,) = digests_posted(fed, bot)
        assert "1 post boosted, from 1 person on 1 server:" in text
        assert text.endswith(f"New in the directory, welcome!\n@{dana.acct}")
        assert "bob" not in text
        wait_for(lambda: any(HEADER in s["text"] for s in dana.from_bot()), what="Dana's notification")
        relay.stop()
