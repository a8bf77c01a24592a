"""The store's statements about one post find it through an index, whatever else the file holds.

SQLite picks an index by guessing, and with no statistics a two-column guess can be wrong: for
`uri = ? AND kind = ? AND state = 'intent'` it once took journal_done_at (kind, state, ...) and
walked every open intent, so that with a backlog each boost cost time in proportion to it; and an
author's boosts of the day were counted by walking every boost of the day, and the domain blocks
covering an author's domain were found by walking the whole block list. Here every statement
a post's whole life runs is traced and its query plan read.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from storehelp import arrive

from relay.core.lifecycle import Event
from relay.core.verdict import Decision, Reason, Verdict
from relay.store.store import Store

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOLD = Verdict(Decision.HOLD, (Reason("mode", Decision.HOLD, "review mode"),))
BIG_TABLES = ("posts", "sightings", "journal", "queue", "audit", "blocks")  # blocks: a shared block list
PER_POST = re.compile(r"\b(uri|local_id|acct)\s*=\s*'|\bid\s*=\s*\d")  # as traced: values written in


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "state.db", now=lambda: T0) as opened:
        yield opened


def a_post_lifetime(store: Store, n: int) -> None:
    """What the relay does to post `n`: screened, held, approved, boosted, seen again, deleted."""
    uri = f"https://a.example/users/u{n % 7}/statuses/{n}"
    assert store.posts.stored(uri) is None
    store.posts.add_screened(
        uri, HOLD, source="a.example", acct=f"u{n % 7}@a.example", url=None, edited_at=None,
        text_fingerprint=f"fp{n}", local_id=str(n), audit_detail="review",
    )  # fmt: skip
    store.people.history(f"u{n % 7}@a.example", f"fp{n}", uri=uri)
    short_id = store.queue.hold(uri, HOLD)
    store.queue.queue_item(short_id)
    store.queue.queue_by_uri(uri)
    store.queue.move(short_id, Event.APPROVE, "mod@a.example", "ok")
    store.boosts.boost_intent(uri, None)
    assert store.boosts.boost_pending(uri)
    store.boosts.boost_done(uri, f"r{n}")
    store.queue.move(short_id, Event.BOOST, "relay", None)
    arrive(
        store,
        uri, source="b.example", acct=f"u{n % 7}@a.example", url=None, edited_at=None,
        text_fingerprint=f"fp{n}", local_id=f"b{n}",
    )  # fmt: skip
    store.posts.record_sightings([(uri, "c.example", f"c{n}")])
    store.posts.record_verdict(uri, HOLD)
    assert store.boosts.is_boosted(uri)
    store.boosts.journal(uri)
    store.posts.sightings(uri)
    store.posts.author_of(uri)
    store.posts.verdict_for(uri)
    assert store.posts.uri_for_local_id("b.example", f"b{n}") == uri
    store.boosts.unboost_intent(uri, None)
    store.boosts.unboost_done(uri)
    store.posts.mark_retracted(uri, "deleted")
    assert store.posts.is_retracted(uri)


def plan(conn: sqlite3.Connection, sql: str) -> list[str]:
    return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]


def test_statements_about_one_post_use_an_index_for_it(store: Store) -> None:
    for n in range(40):  # many posts, open intents and blocks: so that a scan would be a choice
        store.people.block(f"spam{n}.example", "spam", "mod@a.example")
        store.people.block(f"spammer@spam{n}.example", "spam", "mod@a.example")
        store.posts.add_screened(
            f"https://a.example/old/{n}", HOLD, source="a.example", acct="o@a.example", url=None,
            edited_at=None, text_fingerprint="", local_id=None,
        )  # fmt: skip
        store.boosts.boost_intent(f"https://a.example/old/{n}", None)
    traced: list[str] = []
    store._conn.set_trace_callback(traced.append)
    try:
        for n in range(3):
            a_post_lifetime(store, n)
    finally:
        store._conn.set_trace_callback(None)
    statements = {" ".join(s.split()) for s in traced if PER_POST.search(s)}
    assert len(statements) > 20
    wrong = {}
    for sql in statements:
        if sql.split()[0].upper() not in ("SELECT", "UPDATE", "DELETE", "INSERT"):
            continue
        steps = plan(store._conn, sql)
        bad = [s for s in steps if re.match(rf"SCAN ({'|'.join(BIG_TABLES)})\b", s) or "journal_done_at" in s]
        if bad:
            wrong[sql] = steps
    assert wrong == {}
