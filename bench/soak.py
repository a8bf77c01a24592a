"""Soak: the real `relay run` against the sandbox, killed with SIGKILL at random moments.

    python bench/soak.py --kills 60 --seed 7          # the long run, by hand (a few minutes)
    python bench/soak.py --kills 4 --posts 40         # what tests/e2e/test_soak.py runs in CI

Authors on two sandbox instances post (passing posts, posts with a hold keyword, posts with a
reject keyword, bursts from one author past the per-author cap), edit (harmlessly, or so that
the post fails) and delete (some at once, some later); a moderator reads the bot's hold notices
and approves or rejects held posts by DM, or never answers. The sandbox holds `update` and
`status.update` events back and sends `delete` at once, as Mastodon's streaming server does.
`relay run` is SIGKILLed after a random time up (drawn from the seed) and started again, over and
over; some posts, deletes and DMs are made while it is down. At the end the relay runs until it
has nothing left to do (with a deadline), and `soak_oracle.judge` checks every promise from the
home instance's side and from the state file, and prints the counts. Exit status 1 if any was
broken. Kill times are random by design; the promises must hold whatever they are.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mastodon import Mastodon

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # relayproc: how the end-to-end tests start `relay run`

from relayproc import HASHTAG, RelayProcess, wait_for  # noqa: E402
from soak_moderator import Moderator  # noqa: E402
from soak_oracle import (  # noqa: E402
    APPROVE,
    BURST,
    FAIL,
    HOLD,
    PASS,
    REJECT,
    Observed,
    Planned,
    Row,
    judge,
    kinds,
    table,
    violations,
)

from relay.core.dedupe import Arrival, decide  # noqa: E402
from relay.errors import StoreError  # noqa: E402
from relay.log import configure_logging  # noqa: E402
from relay.sandbox import Budget, Fediverse, RateLimits, SeededAccount  # noqa: E402
from relay.sandbox.model import iso  # noqa: E402
from relay.store.store import Store  # noqa: E402

HOLD_WORD, REJECT_WORD, CAP = "consultation", "casino", 3
RULES = f"""
[rules.keywords]
hold = ["{HOLD_WORD}"]
reject = ["{REJECT_WORD}"]
[rules.limits]
max_boosts_per_author_24h = {CAP}
"""
# Budgets far above Mastodon's: the soak is about crashes, not about waiting out rate limits.
PLENTY = RateLimits(Budget(10**6, 300.0), Budget(10**6, 900.0), Budget(10**6, 1800.0))
STALE = "posts whose last version is not screened"
ACTIONS = {  # what a step of the schedule does, with its weight; one that cannot be done now idles
    "pass": 30,
    "hold": 14,
    "fail": 7,
    "post+delete": 4,
    "burst": 2,
    "edit": 9,
    "edit-fail": 4,
    "delete": 5,
    "idle": 25,
}


@dataclass(frozen=True)
class Settings:
    kills: int = 60
    posts: int = 0  # 0: six a kill and ten more
    seed: int = 1
    up_min: float = 0.5  # seconds a relay runs before its SIGKILL: uniform in [up_min, up_max]
    up_max: float = 5.0
    gap: float = 0.12  # mean pause between two actions of the authors and the moderator
    hold: float = 0.3  # how long the sandbox holds update events back (deletes go at once)
    settle: float = 120.0  # seconds the end may take to reach "nothing left to do"
    guard_edits: bool = False  # kill only once the relay has screened the edits made (the old guard)

    @property
    def total_posts(self) -> int:
        return self.posts or 6 * self.kills + 10


@dataclass
class Author:
    account: SeededAccount
    instance: str
    quota: int  # posts left for this author (a normal author stays within the cap)
    api: Mastodon


@dataclass
class Run:
    """What happened during the run, beside the posts: for the header and the JSON report."""

    kills: int = 0
    started: int = 0
    seconds: float = 0.0
    reblog_calls: int = 0
    dms: int = 0
    unsettled: list[str] = field(default_factory=list)
    unheard_edits: int = 0  # edits the relay had not screened 30 s after the kill was due
    reorder: bool = False


class Soak:
    def __init__(self, settings: Settings, folder: Path) -> None:
        self.s = settings
        self.folder = folder
        self.rng = random.Random(settings.seed)
        self.posts: list[Planned] = []
        self.by_url: dict[str, Planned] = {}
        self.by_uri: dict[str, Planned] = {}
        self._edited: set[str] = set()  # posts edited since the relay was last started
        self.ids: dict[str, tuple[Author, str]] = {}  # uri -> author, status id on their instance
        self.authors: list[Author] = []
        self.step = 0
        self.run_info = Run()
        self._log_at = 0
        self._listening = False
        self.notes: dict[str, str] = {}

    # -- the whole run -----------------------------------------------------------------------------

    def run(self) -> list[Row]:
        began = time.monotonic()
        with Fediverse(["home", "remote"], heartbeat=0.5, rate_limits=PLENTY) as fed:
            self.fed = fed
            for instance in fed:  # Mastodon's order: deletes at once, updates held back
                reorder = getattr(instance, "reorder_streams", None)
                if reorder is not None:
                    reorder(self.s.hold)
                    self.run_info.reorder = True
            home = fed["home"]
            self.bot = home.create_account("relaybot", bot=True, display_name="TherapistsConnect relay")
            self.bot_acct = f"{self.bot.username}@{home.domain}"
            mira = home.create_account("mira", display_name="Mira")
            home.follow(mira, self.bot_acct)
            self.mod = Moderator(self._api("home", mira), self.bot.uri, self.bot_acct, self.rng)
            watcher = fed["remote"].create_account("watcher")
            self.relay = RelayProcess(
                self.folder,
                fed,
                self.bot,
                streamed=(("remote", watcher),),
                moderators=(mira.acct,),
                moderation='dm_policy = "accept"\ndigest_interval = 1',
                extra=RULES,
            )
            for _ in range(self.s.kills):
                self._up_then_kill(self.rng.uniform(self.s.up_min, self.s.up_max))
                self._down()
            self._settle()
            seen = self._observe()
        self.notes = dict(seen.notes)
        self.run_info.seconds = time.monotonic() - began
        return judge(self.posts, seen)

    def _up_then_kill(self, uptime: float) -> None:
        self._start()
        until = time.monotonic() + uptime
        while time.monotonic() < until:
            self._act(down=False)
            self._pause()
        self._alive()
        if self.s.guard_edits:
            self._wait_edits_heard()
        self.relay.kill()
        self.run_info.kills += 1

    def _wait_edits_heard(self) -> None:
        """Hold the kill until the relay has screened the edits made while it ran.

        Until the recheck of recent boosts (`relay.runtime.recheck`), an edit whose event was in flight
        when the relay died was never seen again (catch-up asks only for posts newer than its
        cursor). With `--guard-edits` the soak measures the other promises apart from that.
        """
        deadline = time.monotonic() + 30.0
        while self._edited:
            with self._store() as store:
                self._edited = {u for u in self._edited if not self._known(store, self.by_uri[u])}
            if time.monotonic() > deadline:
                self.run_info.unheard_edits += len(self._edited)
                break
            time.sleep(0.05)  # polling interval of a wait with a deadline
        self._edited = set()

    def _down(self) -> None:
        self._listening = False
        if self.rng.random() < 0.5:
            for _ in range(self.rng.randint(1, 4)):
                self._act(down=True)

    def _start(self) -> None:
        self._log_at = self.relay.log_path.stat().st_size if self.relay.log_path.exists() else 0
        self._listening = False
        self.relay.start(wait_ready=False)
        self.run_info.started += 1

    def _alive(self) -> None:
        process = self.relay.process
        if process is not None and process.poll() is not None:
            raise SystemExit(
                f"relay exited on its own ({process.returncode}):\n{self.relay.log_text()[-3000:]}"
            )

    def _pause(self) -> None:
        time.sleep(self.rng.uniform(0, 2 * self.s.gap))  # the authors' pace, drawn from the seed

    # -- authors and moderator -----------------------------------------------------------------

    def _act(self, *, down: bool) -> None:
        self.step += 1
        self.mod.turn(self.posts, self.by_url, self.step, final=False)
        if not down:
            self._read_log()
        budget = self.s.total_posts * (self.run_info.kills + 1) / (self.s.kills + 1)
        live = [p for p in self.posts if p.deleted_at is None and p.kind != BURST]
        editable = [p for p in live if p.kind == PASS and p.failed_by_edit_at is None]
        action = self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
        if (
            (action in ("pass", "hold", "fail", "post+delete", "burst") and len(self.posts) >= budget)
            or (action.startswith("edit") and not (editable and self._listening))  # see README
            or (action == "delete" and not live)
            or action == "idle"
        ):
            return
        if action in ("pass", "hold", "fail"):
            self._post(action, down=down)
        elif action == "post+delete":
            self._delete(self._post(PASS, down=down), down=down)
        elif action == "burst":
            author = self._new_author(CAP + 2)
            for _ in range(CAP + 2):
                self._post(BURST, down=down, author=author)
        elif action == "edit":
            self._edit(self.rng.choice(editable), fail=False)
        elif action == "edit-fail":
            self._edit(self.rng.choice(editable), fail=True)
        else:
            self._delete(self.rng.choice(live), down=down)

    def _post(self, kind: str, *, down: bool, author: Author | None = None) -> Planned:
        author = author or self._normal_author()
        author.quota -= 1
        serial = len(self.posts) + 1
        words = {
            PASS: "notes from practice",
            BURST: "one of many notes",
            HOLD: f"a free {HOLD_WORD} this week",
            FAIL: f"a night at the {REJECT_WORD}",
        }[kind]
        status = author.api.status_post(f"Soak {serial}: {words} #{HASHTAG}", visibility="public")
        decision = None
        if kind == HOLD:
            decision = self.rng.choices([APPROVE, REJECT, None], weights=[6, 2, 2])[0]
        post = Planned(
            serial,
            status["uri"],
            status["url"],
            author.account.acct,
            kind,
            while_down=down,
            decision=decision,
        )
        self.posts.append(post)
        self.by_url[post.url] = post
        self.by_uri[post.uri] = post
        self.ids[post.uri] = (author, str(status["id"]))
        return post

    def _edit(self, post: Planned, *, fail: bool) -> None:
        author, status_id = self.ids[post.uri]
        if fail:
            text = f"Soak {post.serial}: now about the {REJECT_WORD} #{HASHTAG}"
        else:
            text = f"Soak {post.serial}: notes from practice, edited {post.harmless_edits + 1} #{HASHTAG}"
        author.api.status_update(status_id, status=text)
        if fail:
            post.failed_by_edit_at = datetime.now(UTC)
        else:
            post.harmless_edits += 1
        self._edited.add(post.uri)

    def _delete(self, post: Planned, *, down: bool) -> None:
        author, status_id = self.ids[post.uri]
        author.api.status_delete(status_id)
        post.deleted_at = datetime.now(UTC)  # after the call: the status is gone by now
        post.deleted_unheard = down or not self._listening  # no stream, no delete event

    def _normal_author(self) -> Author:
        waiting = [a for a in self.authors if a.quota > 0]
        if waiting and self.rng.random() < 0.8:
            return self.rng.choice(waiting)
        return self._new_author(self.rng.randint(1, CAP))  # never past the cap on its own

    def _new_author(self, quota: int) -> Author:
        instance = self.rng.choice(["home", "remote"])
        account = self.fed[instance].create_account(f"author{len(self.authors) + 1}")
        author = Author(account, instance, quota, self._api(instance, account))
        self.authors.append(author)
        return author

    # -- the relay's side --------------------------------------------------------------------------

    def _read_log(self) -> None:
        """Follow this process's log: it listens once both hashtag streams are connected."""
        if self._listening:
            return
        with self.relay.log_path.open("rb") as f:
            f.seek(self._log_at)
            text = f.read().decode("utf-8", "replace")
        streams = {
            entry.get("stream")
            for line in text.splitlines()
            if line.startswith("{") and '"stream.connected"' in line
            for entry in [json.loads(line)]
        }
        self._listening = {f"{self.fed[n].domain}#{HASHTAG}" for n in ("home", "remote")} <= streams

    def _settle(self) -> None:
        """Start the relay a last time and wait (on conditions, with a deadline) until it is idle."""
        self._start()
        started = time.monotonic()
        deadline = started + self.s.settle
        # On a loaded machine every earlier run may have been killed before it made the state file.
        wait_for(self._store_ready, timeout=self.s.settle, what="the relay's state file, migrated")
        while True:
            self._alive()
            self.mod.turn(self.posts, self.by_url, self.step, final=True)
            waiting = self._waiting()
            if not waiting or (not self.s.guard_edits and self._only_stale(waiting, started)):
                break
            if time.monotonic() > deadline:
                self.run_info.unsettled = waiting
                break
            time.sleep(0.1)  # polling interval of a wait with a deadline
        self.run_info.reblog_calls = self.relay.reblog_calls()
        self.run_info.dms = len(self.mod.sent)
        self.relay.stop()

    def _only_stale(self, waiting: list[str], started: float) -> bool:
        """Only versions the relay may never see are missing, and the held events had time."""
        late = time.monotonic() - started > 20.0 + 2 * self.s.hold
        return late and len(waiting) == 1 and waiting[0].endswith(STALE)

    def _waiting(self) -> list[str]:
        """What the relay still has to do; empty once it is idle."""
        undecided = [
            p.uri
            for p in self.posts
            if p.kind == HOLD and p.decision and p.decided_at is None and p.deleted_at is None
        ]
        with self._store() as store:
            open_intents = store.boosts.unfinished_intents()
            unhandled = [i for i in self.mod.sent if not store.settings.is_mention_handled(i)]
            stale = [p.uri for p in self.posts if p.deleted_at is None and not self._known(store, p)]
        waiting = []
        for name, items in (
            ("held posts not yet announced and decided", undecided),
            ("open intents", open_intents),
            ("DMs not handled", unhandled),
            (STALE, stale),
        ):
            if items:
                waiting.append(f"{len(items)} {name}")
        return waiting

    def _known(self, store: Store, post: Planned) -> bool:
        """Whether the relay has screened the post as it stands now (or knows it is deleted)."""
        author, _ = self.ids[post.uri]
        with self.fed.lock:
            status = self.fed[author.instance].state.status_by_uri(post.uri)
            edited = None if status is None or status.edited_at is None else iso(status.edited_at)
        return decide(store.posts.stored(post.uri), edited) in (Arrival.DUPLICATE, Arrival.RETRACTED)

    def _observe(self) -> Observed:
        home = self.fed["home"]
        made: dict[str, list[datetime]] = {}
        with home.lock:
            for record in home.state.reblogs_made:
                if record.account_id == self.bot.id:
                    made.setdefault(record.uri, []).append(record.at)
        with self._store() as store:
            uris = [p.uri for p in self.posts]
            approved = Counter(
                r.uri for r in store.audit_log.audit_rows() if r.action == "queue.approved" and r.uri
            )
            states = {u: item.state for u in uris if (item := store.queue.queue_by_uri(u)) is not None}
            return Observed(
                reblogs_made=made,
                boosted_now=frozenset(self.relay.boosted_uris()),
                approvals_audited=approved,
                queue_states=states,
                boost_done=frozenset(u for u in uris if store.boosts.is_boosted(u)),
                retracted=frozenset(u for u in uris if store.posts.is_retracted(u)),
                known_versions=frozenset(p.uri for p in self.posts if self._known(store, p)),
                screened=frozenset(u for u in uris if store.posts.verdict_for(u) is not None),
                open_intents=len(store.boosts.unfinished_intents()),
                unhandled_dms=sum(1 for i in self.mod.sent if not store.settings.is_mention_handled(i)),
                cap=CAP,
                notes={p.uri: self._note(store, p, made) for p in self.posts},
            )

    def _note(self, store: Store, post: Planned, made: dict[str, list[datetime]]) -> str:
        """One line on a post for the table: the schedule's side and the relay's."""
        verdict = store.posts.verdict_for(post.uri)
        said = "unseen" if verdict is None else verdict.decision.value
        why = [r.rule for r in verdict.reasons if r.decision.value != "accept"] if verdict else []
        journal = ",".join(f"{e.kind}:{e.state}" for e in store.boosts.journal(post.uri)) or "-"
        fate = [
            f"#{post.serial} {post.kind}",
            post.acct,
            "posted while down" if post.while_down else "",
            f"{post.harmless_edits} harmless edits" if post.harmless_edits else "",
            "edited to fail" if post.failed_by_edit_at else "",
            "deleted" if post.deleted_at else "",
            f"moderator: {post.decision}" if post.kind == HOLD else "",
        ]
        relay = f"relay: {said} {why or ''} journal {journal} reblogs {len(made.get(post.uri, ()))}"
        return "; ".join(f for f in fate if f) + " | " + relay

    def _store_ready(self) -> bool:
        """The state file is there at the relay's schema version (a first start has migrated it)."""
        try:
            with self._store():
                return True
        except StoreError:
            return False

    @contextlib.contextmanager
    def _store(self) -> Iterator[Store]:
        with Store.open(self.relay.state, readonly=True) as store:
            yield store

    def _api(self, instance: str, account: SeededAccount) -> Mastodon:
        return Mastodon(access_token=account.token, api_base_url=self.fed[instance].url)

    # -- the report --------------------------------------------------------------------------------

    def header(self) -> str:
        r, s = self.run_info, self.s
        mix = ", ".join(f"{n} {k}" for k, n in sorted(kinds(self.posts).items()))
        lines = [
            f"soak: seed {s.seed}, {r.kills} SIGKILLs ({r.started} starts), {len(self.posts)} posts by "
            f"{len(self.authors)} authors in {r.seconds:.0f} s; cap {CAP}; "
            + (f"updates held {s.hold} s, deletes at once" if r.reorder else "deliveries in order"),
            f"  posts: {mix}",
            f"  moderator DMs: {r.dms}; the bot's reblog calls: {r.reblog_calls}; edits "
            + ("guarded (a kill waits until they are screened)" if s.guard_edits else "unguarded"),
        ]
        if r.unheard_edits:
            lines.append(f"  edits not screened 30 s after their kill was due: {r.unheard_edits}")
        if r.unsettled:
            lines.append(f"  NOT IDLE after {s.settle:.0f} s: " + "; ".join(r.unsettled))
        return "\n".join(lines)

    def report(self, rows: list[Row]) -> dict[str, Any]:
        return {
            "settings": asdict(self.s),
            "run": asdict(self.run_info),
            "posts": dict(kinds(self.posts)),
            "rows": [asdict(r) for r in rows],
            "violations": violations(rows),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=Settings.kills, help="SIGKILLs (60)")
    parser.add_argument("--posts", type=int, default=0, help="posts to make (6 a kill + 10)")
    parser.add_argument("--seed", type=int, default=Settings.seed, help="seed of the schedule (1)")
    parser.add_argument(
        "--up-max", type=float, default=Settings.up_max, help="longest run before a kill (5 s)"
    )
    parser.add_argument("--hold", type=float, default=Settings.hold, help="update events held back (0.3 s)")
    parser.add_argument("--settle", type=float, default=Settings.settle, help="deadline of the end (120 s)")
    parser.add_argument(
        "--guard-edits", action="store_true", help="kill only once the edits made are screened"
    )
    parser.add_argument("--dir", type=Path, help="keep the relay's folder (state file, log) here")
    parser.add_argument("--json", type=Path, help="write the report here as JSON")
    args = parser.parse_args(argv)
    configure_logging("warning", json=False)  # the sandbox's own log: only what goes wrong
    settings = Settings(
        kills=args.kills,
        posts=args.posts,
        seed=args.seed,
        up_max=args.up_max,
        hold=args.hold,
        settle=args.settle,
        guard_edits=args.guard_edits,
    )
    with contextlib.ExitStack() as stack:
        folder = args.dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        folder.mkdir(parents=True, exist_ok=True)
        soak = Soak(settings, folder)
        rows = soak.run()
    print(soak.header())
    print(table(rows, soak.notes))
    broken = violations(rows)
    print(f"violations: {broken}")
    if args.json:
        args.json.write_text(json.dumps(soak.report(rows), indent=1, default=str), encoding="utf-8")
    return 1 if broken or soak.run_info.unsettled else 0


if __name__ == "__main__":
    sys.exit(main())
