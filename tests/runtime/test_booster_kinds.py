"""The booster's rate budget on a home instance that announces none (Akkoma), against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from storehelp import arrive
from structlog.testing import capture_logs

from relay.core.budget import UNANNOUNCED
from relay.runtime.booster import Booster
from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.sources.client import mastodon_client
from relay.store.store import Store

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def akkoma() -> Iterator[Instance]:
    with Fediverse(["home"], heartbeat=5, flavours={"home": "akkoma"}) as fed:
        yield fed["home"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "relay.sqlite3") as opened:
        yield opened


def accepted_posts(home: Instance, store: Store, count: int) -> None:
    """`count` posts on the home instance, accepted with their home ids, as the pipeline leaves them."""
    author = home.create_account("alice")
    client = mastodon_client(home.url, author.token)
    for n in range(count):
        status = client.status_post(f"Hi {n} #TherapistsConnect")
        arrive(
            store,
            status["uri"], source=home.domain, acct=author.acct, url=status["url"],
            edited_at=None, text_fingerprint=str(n),
        )  # fmt: skip
        store.boosts.boost_intent(status["uri"], str(status["id"]))


def reblogs(home: Instance, bot: SeededAccount) -> int:
    return sum(1 for r in home.requests if r.path.endswith("/reblog") and r.token == bot.token)


class TestNoRateHeaders:
    def test_own_budget_paces_the_boosts(self, akkoma: Instance, store: Store) -> None:
        """Akkoma sends no X-RateLimit headers: the booster spends at most its own budget
        (UNANNOUNCED) in a window, waits for the window, then goes on."""
        calls, window = UNANNOUNCED
        bot = akkoma.create_account("relaybot", bot=True)
        accepted_posts(akkoma, store, calls + 2)
        clock = Clock()
        booster = Booster(mastodon_client(akkoma.url, bot.token), store, home_host=akkoma.domain, clock=clock)
        turn = booster.work()
        assert reblogs(akkoma, bot) == calls
        assert turn.wait == window
        assert booster.budget.unannounced
        clock.now += window
        assert booster.work().wait is None
        assert reblogs(akkoma, bot) == calls + 2

    def test_throttled_without_headers_backs_off(self, akkoma: Instance, store: Store) -> None:
        """A 429 {"error": "Throttled"} without headers holds the boosts 60 s, then they go."""
        bot = akkoma.create_account("relaybot", bot=True)
        accepted_posts(akkoma, store, 1)
        akkoma.fail_next(1, status=429, path_prefix="/api/v1/statuses")
        clock = Clock()
        booster = Booster(mastodon_client(akkoma.url, bot.token), store, home_host=akkoma.domain, clock=clock)
        with capture_logs() as logs:
            turn = booster.work()
        assert turn.wait == 60.0
        assert [e["retry_in_s"] for e in logs if e["event"] == "boost.rate_limited"] == [60.0]
        clock.now += 60.0
        assert booster.work().wait is None
        assert reblogs(akkoma, bot) == 1  # the one that went through (the refused one never reached it)
        assert store.boosts.unfinished_intents() == []
