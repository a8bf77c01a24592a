"""The booster against a sandbox home instance, through the real Mastodon.py client and a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mastodon import Mastodon

from relay.booster import TURN, Booster, BoosterSettings
from relay.budget import ServerBudget, WindowBudget
from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.store import Store


@pytest.fixture
def fed() -> Iterator[Fediverse]:
    with Fediverse(["home", "remote"], heartbeat=5) as fediverse:
        yield fediverse


@pytest.fixture
def bot(fed: Fediverse) -> SeededAccount:
    return fed["home"].create_account("relaybot", bot=True)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "relay.sqlite3") as opened:
        yield opened


def api(instance: Instance, account: SeededAccount) -> Mastodon:
    return Mastodon(access_token=account.token, api_base_url=instance.url, ratelimit_method="throw")


def remote_post(fed: Fediverse, text: str = "Hello #TherapistsConnect", **options: object) -> dict:
    bob = fed["remote"].create_account(f"bob{len(fed['remote'].requests)}")
    return dict(api(fed["remote"], bob).status_post(text, **options))


def accepted(store: Store, status: dict) -> None:
    """Record the post as seen and accepted, with a boost intent, as the pipeline does."""
    store.observe(
        status["uri"],
        source="remote",
        acct="bob@remote",
        url=status["url"],
        edited_at=None,
        text_fingerprint="fp",
    )
    store.boost_intent(status["uri"], None)


def reblog_calls(instance: Instance, bot: SeededAccount) -> int:
    return sum(
        1
        for r in instance.requests
        if r.method == "POST" and r.path.endswith("/reblog") and r.token == bot.token
    )


class TestBoosting:
    def test_resolves_and_reblogs_a_remote_post(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """A post from another instance is resolved on home by its uri and reblogged once."""
        status = remote_post(fed)
        accepted(store, status)
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        assert booster.work() is None
        assert store.is_boosted(status["uri"])
        assert reblog_calls(fed["home"], bot) == 1
        assert booster.budget.remaining is not None  # taken from X-RateLimit-Remaining

    def test_reconciles_an_intent_left_by_a_crash(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """An open intent whose reblog already happened is closed from `reblogged`, with no second call."""
        status = remote_post(fed)
        accepted(store, status)
        home = api(fed["home"], bot)
        local = home.search_v2(status["uri"], resolve=True)["statuses"][0]
        home.status_reblog(local["id"])  # the call that happened just before the crash
        Booster(home, store, home_host=fed["home"].domain).work()
        assert store.is_boosted(status["uri"])
        assert reblog_calls(fed["home"], bot) == 1

    def test_dry_run_calls_nothing(self, fed: Fediverse, bot: SeededAccount, store: Store) -> None:
        """With dry_run the intent is closed as not reblogged and no reblog request is made."""
        status = remote_post(fed)
        accepted(store, status)
        Booster(
            api(fed["home"], bot), store, home_host=fed["home"].domain, settings=BoosterSettings(dry_run=True)
        ).work()
        assert not store.is_boosted(status["uri"])
        assert store.unfinished_intents() == []
        assert reblog_calls(fed["home"], bot) == 0

    def test_paused_booster_keeps_intents_open(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """While paused nothing is boosted and nothing is lost; resuming boosts it."""
        status = remote_post(fed)
        accepted(store, status)
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        booster.paused = True
        booster.work()
        assert len(store.unfinished_intents()) == 1
        booster.paused = False
        booster.work()
        assert store.is_boosted(status["uri"])

    def test_a_backlog_longer_than_a_turn_goes_turn_by_turn(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """Each turn reads the head of the queue only (TURN intents); when all of it went the
        booster asks for another turn at once, and the next one boosts the rest, each once."""
        alice = fed["home"].create_account("alice")
        client = api(fed["home"], alice)
        statuses = [dict(client.status_post(f"Post {n} #TherapistsConnect")) for n in range(TURN + 3)]
        for status in statuses:  # home posts: reblogged by their local id, no search needed
            store.observe(
                status["uri"], source=fed["home"].domain, acct=f"alice@{fed['home'].domain}",
                url=status["url"], edited_at=None, text_fingerprint=status["id"],
            )  # fmt: skip
            store.boost_intent(status["uri"], str(status["id"]))
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        assert booster.work() == 0.0
        assert [store.is_boosted(s["uri"]) for s in statuses].count(True) == TURN
        assert store.intent_count("boost") == 3
        assert booster.work() is None
        assert all(store.is_boosted(s["uri"]) for s in statuses)
        assert reblog_calls(fed["home"], bot) == TURN + 3

    def test_unboost_undoes_the_reblog(self, fed: Fediverse, bot: SeededAccount, store: Store) -> None:
        """An unboost intent removes the bot's reblog and is counted against the unreblog budget."""
        status = remote_post(fed)
        accepted(store, status)
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        booster.work()
        store.unboost_intent(status["uri"], None)
        booster.work()
        assert not store.is_boosted(status["uri"])
        local = api(fed["home"], bot).search_v2(status["uri"], resolve=True)["statuses"][0]
        assert local["reblogged"] is False
        assert booster.unreblog_budget.used(booster._clock()) == 1


class TestRefusals:
    def test_server_errors_are_retried_later(self, fed: Fediverse, bot: SeededAccount, store: Store) -> None:
        """A 503 keeps the intent open with a retry time; nothing is lost."""
        status = remote_post(fed)
        accepted(store, status)
        fed["home"].fail_next(1, status=503, path_prefix="/api/v2/search")
        wait = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain).work()
        assert wait is not None
        assert wait > 0
        assert len(store.unfinished_intents()) == 1

    def test_repeated_server_errors_back_off_exponentially(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """Each further 5xx for an intent doubles its wait (2 s, 4 s, 8 s, with jitter: never more,
        at least half); the boost goes through as soon as the server answers."""
        status = remote_post(fed)
        accepted(store, status)
        now = [1000.0]
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain, clock=lambda: now[0])
        for expected in (2.0, 4.0, 8.0):
            fed["home"].fail_next(1, status=503, path_prefix="/api/v2/search")
            wait = booster.work()
            assert wait is not None
            assert expected / 2 <= wait <= expected
            assert booster.work() == wait  # still waiting: no new request
            now[0] += wait
        assert booster.work() is None
        assert store.is_boosted(status["uri"])

    def test_429_waits_until_the_announced_reset(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """After a 429 the booster waits for X-RateLimit-Reset instead of hammering the server."""
        status = remote_post(fed)
        accepted(store, status)
        fed["home"].fail_next(1, status=429, path_prefix="/api/v2/search", reset_in=30)
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        wait = booster.work()
        assert wait is not None
        assert 20 < wait <= 31  # the reset, give or take the clock difference Mastodon.py corrects
        assert booster.work() is not None  # still waiting: no new request
        assert not store.is_boosted(status["uri"])

    def test_unresolvable_post_fails_permanently(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """A uri the home instance cannot resolve closes the intent as failed, with the reason."""
        store.observe(
            "https://gone.example/1",
            source="x",
            acct="a@gone.example",
            url=None,
            edited_at=None,
            text_fingerprint="fp",
        )
        store.boost_intent("https://gone.example/1", None)
        Booster(api(fed["home"], bot), store, home_host=fed["home"].domain).work()
        [entry] = store.journal("https://gone.example/1")
        assert entry.state == "failed"
        assert "cannot resolve" in (entry.error or "")


class TestBudgets:
    def test_server_budget_keeps_a_reserve(self) -> None:
        """With the announced remaining at the reserve, the next call waits for the reset."""
        budget = ServerBudget(reserve=10)
        budget.observe(300, 11, 1000.0)
        assert budget.wait(900.0) == 0.0
        budget.observe(300, 10, 1000.0)
        assert budget.wait(900.0) == 100.0
        assert budget.wait(1000.0) == 0.0  # a new window

    def test_small_budgets_keep_a_tenth(self) -> None:
        """A budget of 8 keeps no reserve, so a small instance is still usable."""
        budget = ServerBudget(reserve=10)
        budget.observe(8, 1, 50.0)
        assert budget.wait(10.0) == 0.0

    def test_window_budget_spaces_calls(self) -> None:
        """30 unreblogs per 30 minutes: the 31st waits until the first leaves the window."""
        window = WindowBudget(30, 1800.0)
        for i in range(30):
            assert window.wait(float(i)) == 0.0
            window.spend(float(i))
        assert window.wait(30.0) == 1770.0
        assert window.wait(1800.0) == 0.0
