"""How close does a resumed relay boost to what the home rate limit allows? Run: python bench/bench_backlog.py

A sandbox home instance with a real, fixed-window rate limit (default 300 requests per 15 s:
Mastodon's 300 per 5 minutes, 20 times faster, so that a run takes ~30 s), and a real `relay run`
process started paused. N posts with the hashtag are posted and accepted (one author each, so that
no rule holds them back); at the start of a rate-limit window the relay is resumed (the store's
pause setting, which the `resume` DM command writes) and works through the backlog. Measured on the
server side, for two kinds of post:

  home stream       posts made on the home instance: their home id comes with them on the home
                    instance's own stream, so a boost is its reblog alone
  another instance  posts made on another instance that the home instance has not seen (the two
                    are partitioned; the relay reads the other instance's stream): resolve, reblog

For each it prints the boosts per second sustained over the whole windows of the run (the last,
partial window left out) beside the ceiling that the limit and the requests per boost allow,
(limit - the booster's reserve) / window / requests per boost, their ratio, the boosts of each
whole window, the requests per boost (the bot's requests for statuses and searches over the boosts,
from the server's request log), the 429s the server answered, and the time the whole backlog took.
N is `--windows` whole windows of the ceiling plus a tenth of one.
"""

from __future__ import annotations

import argparse
import collections
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import structlog  # noqa: E402
from relayproc import HASHTAG, RelayProcess, wait_for  # noqa: E402

from relay.core.budget import ServerBudget  # noqa: E402
from relay.runtime.booster import BoosterSettings  # noqa: E402
from relay.sandbox import Budget, Fediverse, Instance, RateLimits, SeededAccount  # noqa: E402
from relay.store.store import Store  # noqa: E402

BOOST_PATHS = ("/api/v1/statuses", "/api/v2/search")  # what a boost may call; the rest is "other"
AIM_RATIO, AIM_REQUESTS = 0.95, 1.0


@dataclass(frozen=True)
class Kind:
    name: str
    remote: bool  # posts from another instance, unknown to home: resolve + reblog
    requests_per_boost: int  # what the relay should need, to size the backlog


KINDS = (Kind("home stream", False, 1), Kind("another instance", True, 2))


@dataclass(frozen=True)
class Result:
    kind: Kind
    posts: int
    per_window: list[int]  # boosts in each whole window of the run
    period: float
    usable_per_window: int  # the limit minus the booster's reserve
    boost_requests: int
    other_requests: int
    refused: int  # 429s the home instance answered during the run
    took: float  # seconds from the resume to the last boost

    @property
    def requests_per_boost(self) -> float:
        return self.boost_requests / self.posts

    @property
    def rate(self) -> float:
        return sum(self.per_window) / (len(self.per_window) * self.period) if self.per_window else 0.0

    @property
    def ceiling(self) -> float:
        return self.usable_per_window / self.period / self.requests_per_boost

    @property
    def ratio(self) -> float:
        return self.rate / self.ceiling


def reblog_times(home: Instance, bot: SeededAccount) -> list[float]:
    """When each of the bot's reblogs was made, as the home instance recorded it (epoch seconds)."""
    state = home.state
    with state.lock:
        account = state.local_account(bot.username)
        return sorted(
            s.created_at.timestamp()
            for s in state.statuses.values()
            if s.reblog is not None and s.account is account
        )


def run(kind: Kind, *, limit: int, period: float, windows: int, folder: Path) -> Result:
    limits = RateLimits(api=Budget(limit, period), paging=Budget(limit, 3 * period))
    usable = limit - ServerBudget(reserve=BoosterSettings().reserve, limit=limit).kept()
    per_window = usable // kind.requests_per_boost
    posts = windows * per_window + max(1, per_window // 10)
    with Fediverse(["home", "remote"], heartbeat=1.0, rate_limits=limits) as fed:
        home, other = fed["home"], fed["remote"]
        bot = home.create_account("relaybot", bot=True)
        origin, streamed = home, ()
        if kind.remote:
            fed.partition("home", "remote")  # home learns of the posts only by resolving them
            origin, streamed = other, (("remote", other.create_account("watcher")),)
        with Store.open(folder / "relay.sqlite3") as store:
            store.settings.set_paused(True, "bench")
        relay = RelayProcess(folder, fed, bot, streamed=streamed)
        relay.start()
        try:
            relay.wait_log("stream.connected", stream=f"{origin.domain}#{HASHTAG}")
            authors = [origin.create_account(f"author{i}") for i in range(posts)]
            for i, author in enumerate(authors):
                origin.post(author, f"Backlog post {i} #{HASHTAG}")
            with Store.open(relay.state, readonly=True) as view:
                wait_for(
                    lambda: view.boosts.intent_count("boost") == posts,
                    timeout=120,
                    what=f"{posts} accepted posts",
                )
            time.sleep(period - time.time() % period)  # resume as a window of the server's begins
            before, refused = len(home.requests), home.limiter.refused
            resumed = time.time()
            with Store.open(relay.state) as store:
                store.settings.set_paused(False, "bench")
            wait_for(
                lambda: len(relay.boosted_uris()) >= posts,
                timeout=(windows + 2) * period + 60,
                what="the backlog to be boosted",
            )
            times = reblog_times(home, bot)
            mine = [r for r in home.requests[before:] if r.token == bot.token]
            refused = home.limiter.refused - refused
        finally:
            relay.stop()
    boost_requests = sum(1 for r in mine if r.path.startswith(BOOST_PATHS))
    counts = collections.Counter(int(t // period) for t in times)
    first, last = int(resumed // period), max(counts)
    return Result(
        kind,
        posts,
        [counts[w] for w in range(first, last)],
        period,
        usable,
        boost_requests,
        len(mine) - boost_requests,
        refused,
        times[-1] - resumed,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--limit", type=int, default=300, help="requests per window on the home instance (300)"
    )
    parser.add_argument("--period", type=float, default=15.0, help="the window, in seconds (15)")
    parser.add_argument("--windows", type=int, default=2, help="whole windows of backlog (2)")
    args = parser.parse_args(argv)
    # The sandbox logs every request; only its warnings belong in the output.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    print(
        f"home rate limit: {args.limit} requests per {args.period:g} s (fixed windows, as Mastodon's); "
        f"booster reserve {BoosterSettings().reserve}; a real `relay run`, paused, then resumed "
        f"at the start of a window; Python {sys.version.split()[0]}"
    )
    print(
        f"  {'posts from':<17} {'posts':>5} {'req/boost':>9} {'boosts/s':>9} {'ceiling':>8} "
        f"{'of ceiling':>10} {'429s':>5} {'took':>7}  boosts per whole window (other requests)"
    )
    results = []
    for kind in KINDS:
        with tempfile.TemporaryDirectory(prefix="bench_backlog.") as tmp:
            result = run(kind, limit=args.limit, period=args.period, windows=args.windows, folder=Path(tmp))
        results.append(result)
        print(
            f"  {kind.name:<17} {result.posts:>5} {result.requests_per_boost:>9.2f} {result.rate:>9.2f} "
            f"{result.ceiling:>8.2f} {result.ratio:>9.1%} {result.refused:>5} {result.took:>6.1f}s"
            f"  {', '.join(map(str, result.per_window))} of {result.ceiling * result.period:.0f}"
            f" ({result.other_requests})"
        )
    home = results[0]
    met = all(r.ratio >= AIM_RATIO and r.refused == 0 for r in results) and (
        home.requests_per_boost <= AIM_REQUESTS
    )
    print(
        f"  aim ≥ {AIM_RATIO:.0%} of the ceiling and 0 429s for each, {AIM_REQUESTS:.1f} request per boost "
        f"of a home-stream post: {'met' if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
