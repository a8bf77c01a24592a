"""The booster against a sandbox home instance, through the real Mastodon.py client and a real store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mastodon import Mastodon
from storecrash import crash_after
from storehelp import arrive
from structlog.testing import capture_logs

from relay.core.budget import ServerBudget, WindowBudget
from relay.core.lifecycle import Event
from relay.core.verdict import Decision, Reason, Verdict
from relay.runtime.booster import TURN, Booster, BoosterSettings
from relay.runtime.events import Boosted
from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.store.store import Store


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
    arrive(
        store,
        status["uri"],
        source="remote",
        acct="bob@remote",
        url=status["url"],
        edited_at=None,
        text_fingerprint="fp",
    )
    store.boosts.boost_intent(status["uri"], None)


def reblog_calls(instance: Instance, bot: SeededAccount) -> int:
    return sum(
        1
        for r in instance.requests
        if r.method == "POST" and r.path.endswith("/reblog") and r.token == bot.token
    )


NUMBERS = re.compile(r"/\d+")


def calls(instance: Instance, bot: SeededAccount) -> list[str]:
    """The bot's requests for statuses to `instance` as the server saw them, `METHOD path` with ids
    as `:id` (not Mastodon.py's one-time version check, `GET /api/v1/instance` before a search)."""
    return [
        f"{r.method} {NUMBERS.sub('/:id', r.path)}"
        for r in instance.requests
        if r.token == bot.token and r.path.startswith(("/api/v1/statuses", "/api/v2/search"))
    ]


def home_post(
    fed: Fediverse,
    store: Store,
    text: str = "Hi #TherapistsConnect",
    *,
    by: SeededAccount | None = None,
    **options: object,
) -> dict:
    """A post on the home instance, accepted with its home id as the home stream gives it."""
    home = fed["home"]
    author = by or home.create_account(f"alice{len(home.requests)}")
    status = dict(api(home, author).status_post(text, **options))
    arrive(
        store,
        status["uri"], source=home.domain, acct=f"{author.username}@{home.domain}",
        url=status["url"], edited_at=None, text_fingerprint=status["id"],
    )  # fmt: skip
    store.boosts.boost_intent(status["uri"], str(status["id"]))
    return status


REBLOG = "POST /api/v1/statuses/:id/reblog"
UNREBLOG = "POST /api/v1/statuses/:id/unreblog"


class TestBoosting:
    def test_resolves_and_reblogs_a_remote_post(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """A post from another instance is resolved on home by its uri and reblogged once."""
        status = remote_post(fed)
        accepted(store, status)
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        assert booster.work().wait is None
        assert store.boosts.is_boosted(status["uri"])
        assert reblog_calls(fed["home"], bot) == 1
        assert booster.budget.remaining is not None  # taken from X-RateLimit-Remaining

    def test_a_resolved_post_keeps_its_home_id_for_the_recheck(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """A post known only by its uri keeps the home id its resolve gave, so the recheck of
        recent boosts (`relay.runtime.recheck`) can read it back; nothing else told the store that id."""
        status = remote_post(fed)
        accepted(store, status)
        Booster(api(fed["home"], bot), store, home_host=fed["home"].domain).work()
        home_id = api(fed["home"], bot).search_v2(status["uri"], resolve=True)["statuses"][0]["id"]
        since = datetime.now(UTC) - timedelta(hours=1)
        rechecks = store.boosts.boosts_to_recheck(fed["home"].domain, since, 10)
        assert [(r.uri, r.local_id) for r in rechecks] == [(status["uri"], str(home_id))]

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
        assert store.boosts.is_boosted(status["uri"])
        assert reblog_calls(fed["home"], bot) == 1

    def test_a_done_boost_and_its_approved_item_are_recorded_together(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """The done boost and the approved review item's move to boosted are one transaction: a
        crash between them (here the move's follow-up raises) leaves neither, the intent stays open,
        and the next run reconciles both without a second reblog."""
        status = remote_post(fed)
        accepted(store, status)
        hold = Verdict(Decision.HOLD, (Reason("keywords.hold", Decision.HOLD, "matched 'workshop'"),))
        short_id = store.queue.hold(status["uri"], hold)
        store.queue.move(short_id, Event.APPROVE, "maya@home")

        home = api(fed["home"], bot)
        with crash_after(store.queue, "move"), pytest.raises(RuntimeError, match="killed here"):
            Booster(home, store, home_host=fed["home"].domain).work()
        assert not store.boosts.is_boosted(status["uri"])
        assert store.boosts.boost_pending(status["uri"])
        item = store.queue.queue_item(short_id)
        assert item is not None
        assert item.state == "approved"

        turn = Booster(home, store, home_host=fed["home"].domain).work()
        assert store.boosts.is_boosted(status["uri"])
        item = store.queue.queue_item(short_id)
        assert item is not None
        assert item.state == "boosted"
        assert reblog_calls(fed["home"], bot) == 1
        assert turn.boosted == (Boosted(status["uri"]),)  # reported once committed, for moderation

    def test_dry_run_calls_nothing(self, fed: Fediverse, bot: SeededAccount, store: Store) -> None:
        """With dry_run the intent is closed as not reblogged and no reblog request is made."""
        status = remote_post(fed)
        accepted(store, status)
        Booster(
            api(fed["home"], bot), store, home_host=fed["home"].domain, settings=BoosterSettings(dry_run=True)
        ).work()
        assert not store.boosts.is_boosted(status["uri"])
        assert store.boosts.unfinished_intents() == []
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
        assert len(store.boosts.unfinished_intents()) == 1
        booster.paused = False
        booster.work()
        assert store.boosts.is_boosted(status["uri"])

    def test_a_backlog_longer_than_a_turn_goes_turn_by_turn(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """Each turn reads the head of the queue only (TURN intents); when all of it went the
        booster asks for another turn at once, and the next one boosts the rest, each once."""
        alice = fed["home"].create_account("alice")
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        # home posts: reblogged by their local id, no search needed
        statuses = [home_post(fed, store, f"Post {n} #TherapistsConnect", by=alice) for n in range(TURN + 3)]
        assert booster.work().wait == 0.0
        assert [store.boosts.is_boosted(s["uri"]) for s in statuses].count(True) == TURN
        assert store.boosts.intent_count("boost") == 3
        assert booster.work().wait is None
        assert all(store.boosts.is_boosted(s["uri"]) for s in statuses)
        assert reblog_calls(fed["home"], bot) == TURN + 3

    def test_unboost_undoes_the_reblog(self, fed: Fediverse, bot: SeededAccount, store: Store) -> None:
        """An unboost intent removes the bot's reblog and is counted against the unreblog budget."""
        status = remote_post(fed)
        accepted(store, status)
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        booster.work()
        store.boosts.unboost_intent(status["uri"], None)
        booster.work()
        assert not store.boosts.is_boosted(status["uri"])
        local = api(fed["home"], bot).search_v2(status["uri"], resolve=True)["statuses"][0]
        assert local["reblogged"] is False
        assert booster.unreblog_budget.used(booster._clock()) == 1


class TestRequestsPerBoost:
    """What a boost costs the home token's budget, counted by the server."""

    def test_a_home_post_costs_one_request(self, fed: Fediverse, bot: SeededAccount, store: Store) -> None:
        """A fresh intent with the post's home id is reblogged straight away: the reblog alone, no fetch."""
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        status = home_post(fed, store)  # accepted while the relay runs
        booster.work()
        assert store.boosts.is_boosted(status["uri"])
        assert calls(fed["home"], bot) == [REBLOG]

    def test_a_post_from_elsewhere_seen_on_the_home_stream_costs_one_request(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """A remote post whose home id the home stream gave (`remember`) needs no resolve either."""
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        status = remote_post(fed)
        accepted(store, status)
        watcher = fed["home"].create_account("watcher")
        [local] = api(fed["home"], watcher).search_v2(status["uri"], resolve=True)["statuses"]
        booster.learn_home_id(status["uri"], str(local["id"]))
        booster.work()
        assert store.boosts.is_boosted(status["uri"])
        assert calls(fed["home"], bot) == [REBLOG]

    def test_a_post_from_elsewhere_costs_its_resolve_and_its_reblog(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """Without a home id the post is first resolved by its uri: two requests."""
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        status = remote_post(fed)
        accepted(store, status)
        booster.work()
        assert store.boosts.is_boosted(status["uri"])
        assert calls(fed["home"], bot) == ["GET /api/v2/search", REBLOG]

    def test_an_intent_left_by_an_earlier_run_is_fetched_first(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """After a restart (a Booster made after the intents) each open intent is fetched first:
        one whose reblog went out before the crash is closed without a second reblog, one whose
        reblog did not is reblogged."""
        went_out, did_not = home_post(fed, store), home_post(fed, store)
        api(fed["home"], bot).status_reblog(went_out["id"])  # the call just before the crash
        before = len(calls(fed["home"], bot))
        Booster(api(fed["home"], bot), store, home_host=fed["home"].domain).work()
        assert store.boosts.is_boosted(went_out["uri"])
        assert store.boosts.is_boosted(did_not["uri"])
        fetch = "GET /api/v1/statuses/:id"
        assert calls(fed["home"], bot)[before:] == [fetch, fetch, REBLOG]

    @pytest.mark.parametrize(("case", "status_code"), [("deleted", 404), ("direct", 403), ("refused", 422)])
    def test_a_refused_reblog_fails_for_good_after_one_request(
        self, fed: Fediverse, bot: SeededAccount, store: Store, case: str, status_code: int
    ) -> None:
        """404 (deleted), 403 (a direct post the bot may see but not boost) and 422 from the reblog
        close the intent as failed, with the reason, after that one request."""
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        alice = fed["home"].create_account("alice")
        if case == "direct":
            status = home_post(fed, store, "@relaybot psst #TherapistsConnect", by=alice, visibility="direct")
        else:
            status = home_post(fed, store, by=alice)
        if case == "deleted":
            api(fed["home"], alice).status_delete(status["id"])
        if case == "refused":
            fed["home"].fail_next(1, status=422, path_prefix=f"/api/v1/statuses/{status['id']}/reblog")
        assert booster.work().wait is None
        [entry] = store.boosts.journal(status["uri"])
        assert entry.state == "failed"
        assert f"answered {status_code}" in (entry.error or "")
        assert calls(fed["home"], bot) == [REBLOG]

    def test_a_reblog_of_a_post_that_is_not_public_is_undone_at_once(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """Should a post that may not be boosted reach the reblog (an unlisted one, not allowed here),
        the reblog response shows it: the booster unreblogs it in the same turn, fails the intent for
        good and warns."""
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        status = home_post(fed, store, visibility="unlisted")
        with capture_logs() as logs:
            booster.work()
        assert calls(fed["home"], bot) == [REBLOG, UNREBLOG]
        assert api(fed["home"], bot).status(status["id"])["reblogged"] is False
        [entry] = store.boosts.journal(status["uri"])
        assert entry.state == "failed"
        assert "visibility is unlisted" in (entry.error or "")
        assert [e["visibility"] for e in logs if e["event"] == "boost.undone"] == ["unlisted"]

    def test_unlisted_posts_go_in_one_request_where_allowed(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """With `allow_unlisted` an unlisted post's reblog stands."""
        settings = BoosterSettings(allow_unlisted=True)
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain, settings=settings)
        status = home_post(fed, store, visibility="unlisted")
        booster.work()
        assert store.boosts.is_boosted(status["uri"])
        assert calls(fed["home"], bot) == [REBLOG]

    def test_a_reblog_left_up_by_an_earlier_run_that_is_not_allowed_is_undone(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """Reconciling finds the post reblogged but not public: the reblog is undone, not kept."""
        status = home_post(fed, store, visibility="unlisted")
        api(fed["home"], bot).status_reblog(status["id"])  # went out before the crash
        before = len(calls(fed["home"], bot))
        Booster(api(fed["home"], bot), store, home_host=fed["home"].domain).work()
        assert calls(fed["home"], bot)[before:] == ["GET /api/v1/statuses/:id", UNREBLOG]
        assert not store.boosts.is_boosted(status["uri"])
        assert api(fed["home"], bot).status(status["id"])["reblogged"] is False


class TestRefusals:
    def test_server_errors_are_retried_later(self, fed: Fediverse, bot: SeededAccount, store: Store) -> None:
        """A 503 keeps the intent open with a retry time; nothing is lost."""
        status = remote_post(fed)
        accepted(store, status)
        fed["home"].fail_next(1, status=503, path_prefix="/api/v2/search")
        wait = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain).work().wait
        assert wait is not None
        assert wait > 0
        assert len(store.boosts.unfinished_intents()) == 1

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
            wait = booster.work().wait
            assert wait is not None
            assert expected / 2 <= wait <= expected
            assert booster.work().wait == wait  # still waiting: no new request
            now[0] += wait
        assert booster.work().wait is None
        assert store.boosts.is_boosted(status["uri"])

    def test_429_waits_until_the_announced_reset(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """After a 429 the booster waits for X-RateLimit-Reset instead of hammering the server."""
        status = remote_post(fed)
        accepted(store, status)
        fed["home"].fail_next(1, status=429, path_prefix="/api/v2/search", reset_in=30)
        booster = Booster(api(fed["home"], bot), store, home_host=fed["home"].domain)
        wait = booster.work().wait
        assert wait is not None
        assert 20 < wait <= 31  # the reset, give or take the clock difference Mastodon.py corrects
        assert booster.work().wait is not None  # still waiting: no new request
        assert not store.boosts.is_boosted(status["uri"])

    def test_unresolvable_post_fails_permanently(
        self, fed: Fediverse, bot: SeededAccount, store: Store
    ) -> None:
        """A uri the home instance cannot resolve closes the intent as failed, with the reason."""
        arrive(
            store,
            "https://gone.example/1",
            source="x",
            acct="a@gone.example",
            url=None,
            edited_at=None,
            text_fingerprint="fp",
        )
        store.boosts.boost_intent("https://gone.example/1", None)
        Booster(api(fed["home"], bot), store, home_host=fed["home"].domain).work()
        [entry] = store.boosts.journal("https://gone.example/1")
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
