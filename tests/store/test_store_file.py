"""The state file itself: migrations, newer or corrupt files, locks, read-only opening."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storehelp import arrive

from relay.core.dedupe import Arrival
from relay.core.verdict import Decision, Verdict
from relay.errors import StoreError
from relay.store import migrations
from relay.store.store import Store

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
URI = "https://a.example/1"


def open_raw(path: Path) -> sqlite3.Connection:
    """A plain autocommit connection, as another process would have."""
    return sqlite3.connect(path, isolation_level=None)


def test_new_file_is_created_at_the_latest_schema(tmp_path: Path) -> None:
    """Opening a path that does not exist creates the file in WAL mode at the latest version."""
    path = tmp_path / "state.db"
    with Store.open(path) as store:
        assert store.schema_version() == migrations.LATEST
    conn = open_raw(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


@pytest.mark.parametrize("start", range(1, migrations.LATEST))
def test_older_schema_is_migrated_and_keeps_data(tmp_path: Path, start: int) -> None:
    """A file made by an older relay (only the first migrations applied) is migrated at open."""
    path = tmp_path / "state.db"
    conn = open_raw(path)
    try:
        assert migrations.apply(conn, upto=start) == list(range(1, start + 1))
        conn.execute(
            "INSERT INTO posts (uri, acct, domain, first_source, first_seen, last_seen)"
            " VALUES (?, 'alice@a.example', 'a.example', 'home', ?, ?)",
            (URI, T0.isoformat(), T0.isoformat()),
        )
        conn.execute("INSERT INTO cursors VALUES ('home', 'tag', '42', ?)", (T0.isoformat(),))
    finally:
        conn.close()
    with Store.open(path) as store:
        assert store.schema_version() == migrations.LATEST
        assert store.posts.get_cursor("home", "tag") == "42"
        assert (
            arrive(
                store,
                URI,
                source="poll",
                acct="alice@a.example",
                url=None,
                edited_at=None,
                text_fingerprint="fp",
                now=T0,
            )
            is Arrival.DUPLICATE
        )
        store.people.set_consent("alice@a.example", "opt-out", "alice@a.example", T0)
        assert store.people.consent("alice@a.example") == "opt-out"


def test_handled_mentions_move_out_of_settings(tmp_path: Path) -> None:
    """Migration 5 moves v4's `moderation.handled.<id>` settings rows into their table, dates kept."""
    path = tmp_path / "state.db"
    conn = open_raw(path)
    try:
        migrations.apply(conn, upto=4)
        earlier = "2026-11-20T10:00:00.000001+00:00"
        for key, value, at in [
            ("moderation.handled.1001", earlier, earlier),  # as v4's relay wrote them
            ("moderation.handled.1002", T0.isoformat(), T0.isoformat(timespec="microseconds")),
            ("moderation.mentions_cursor", "77", earlier),
            ("paused", "1", earlier),
        ]:
            conn.execute("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)", (key, value, at))
    finally:
        conn.close()
    with Store.open(path) as store:
        assert store.settings.is_mention_handled("1001")
        assert store.settings.is_mention_handled("1002")
        assert store.settings.get_setting("moderation.mentions_cursor") == "77"
        assert store.settings.paused()
        assert store.settings.get_setting("moderation.handled.1001") is None
        assert store.settings.prune_handled_mentions(T0) == 1  # the older one, by its recorded date
        assert store.settings.is_mention_handled("1002")


def file_with_boosts(path: Path, version: int, boosts: list[tuple[str, str]]) -> None:
    """A state file at schema `version` with a post and its boost journal row for each (author,
    state), written (and, unless an intent, finished) an hour before T0 (from v6 on the journal
    row names its author too)."""
    conn = open_raw(path)
    try:
        migrations.apply(conn, upto=version)
        at = (T0 - timedelta(hours=1)).isoformat(timespec="microseconds")
        for n, (acct, state) in enumerate(boosts):
            uri, finished = f"{URI}/{n}", None if state == "intent" else at
            conn.execute(
                "INSERT INTO posts (uri, acct, domain, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)",
                (uri, acct, acct.partition("@")[2], at, at),
            )
            conn.execute(
                "INSERT INTO journal (uri, kind, state, created_at, finished_at)"
                " VALUES (?, 'boost', ?, ?, ?)",
                (uri, state, at, finished),
            )
            if version >= 6:  # the column came with v6
                conn.execute("UPDATE journal SET acct = ? WHERE uri = ?", (acct, uri))
    finally:
        conn.close()


def test_journal_rows_learn_their_author(tmp_path: Path) -> None:
    """Migration 6 copies each journal row's author from its post, so the boosts that v5 recorded
    still count towards the author's 24-hour limit."""
    path = tmp_path / "state.db"
    file_with_boosts(
        path, 5, [("alice@a.example", "done"), ("alice@a.example", "done"), ("bob@b.example", "done")]
    )
    with Store.open(path) as store:
        assert store.people.history("alice@a.example", "fp", T0, uri="new").boosts_last_24h == 2
        assert store.people.history("bob@b.example", "fp", T0, uri="new").boosts_last_24h == 1
        assert store.boosts.boost_count(T0 - timedelta(hours=2), "alice@a.example") == 2


def test_done_boost_indexes_hold_done_boosts_only(tmp_path: Path) -> None:
    """Migration 7 makes the indexes of done boosts partial: a v6 file's done boosts still count,
    its open intent is still open, and an intent finished after the upgrade counts once done."""
    path = tmp_path / "state.db"
    file_with_boosts(
        path, 6, [("alice@a.example", "done"), ("alice@a.example", "done"), ("alice@a.example", "intent")]
    )
    conn = open_raw(path)
    try:
        assert migrations.apply(conn, upto=7) == [7]
        indexes = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE name GLOB 'journal_*done*'"))
    finally:
        conn.close()
    assert sorted(indexes) == ["journal_author_done", "journal_done_at"]
    assert all(sql.endswith("WHERE state = 'done'") for sql in indexes.values())
    with Store.open(path, now=lambda: T0) as store:
        assert store.boosts.boost_count(T0 - timedelta(hours=2)) == 2
        assert [j.uri for j in store.boosts.unfinished_intents("boost")] == [f"{URI}/2"]
        store.boosts.boost_done(f"{URI}/2", "reblog-2")
        assert store.boosts.boost_count(T0 - timedelta(hours=2), "alice@a.example") == 3
        assert store.statistics.stats(T0).boosts_last_24h == 3


def test_the_cap_counts_what_a_v7_file_accepted_for_boosting(tmp_path: Path) -> None:
    """Migration 8 counts an author's posts accepted for boosting, not their finished boosts: a v7
    file's done, open, failed and undone boosts all count, each post once, never the post being
    screened, and nothing written more than 24 hours ago; the index of done boosts by author goes."""
    path = tmp_path / "state.db"
    states = ["done", "intent", "failed", "done", "done"]
    file_with_boosts(path, 7, [("alice@a.example", state) for state in states] + [("bob@b.example", "done")])
    conn = open_raw(path)
    try:
        hour_ago, day_ago = ((T0 - timedelta(hours=h)).isoformat(timespec="microseconds") for h in (1, 25))
        rows = [
            (f"{URI}/3", "unboost", "done", hour_ago),  # undone (an edit): still counts
            (f"{URI}/4", "boost", "done", hour_ago),  # boosted again after that: still one post
            (f"{URI}/9", "boost", "done", day_ago),  # more than a day ago: no longer counts
            (f"{URI}/10", "boost", "done", day_ago),  # as long ago, but boosted again since: counts
            (f"{URI}/10", "boost", "intent", hour_ago),
        ]
        for n in (9, 10):
            conn.execute(
                "INSERT INTO posts (uri, acct, domain, first_seen, last_seen)"
                " VALUES (?, 'alice@a.example', 'a.example', ?, ?)",
                (f"{URI}/{n}", day_ago, day_ago),
            )
        for uri, kind, state, at in rows:
            conn.execute(
                "INSERT INTO journal (uri, acct, kind, state, created_at, finished_at)"
                " VALUES (?, 'alice@a.example', ?, ?, ?, ?)",
                (uri, kind, state, at, None if state == "intent" else at),
            )
    finally:
        conn.close()
    with Store.open(path, now=lambda: T0) as store:
        assert store.schema_version() >= 8
        names = [row[0] for row in store._conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")]
        assert "posts_author_boosts" in names
        assert "journal_author_done" not in names
        assert store.people.history("alice@a.example", "fp", T0, uri="new").boosts_last_24h == 6
        assert store.people.history("alice@a.example", "fp", T0, uri=f"{URI}/4").boosts_last_24h == 5
        assert store.people.history("bob@b.example", "fp", T0, uri="new").boosts_last_24h == 1


def test_early_deletes_come_with_an_upgrade(tmp_path: Path) -> None:
    """Migration 9 adds the table of deletes that came before their post to a v8 file, whose
    posts and boosts stay as they were."""
    path = tmp_path / "state.db"
    file_with_boosts(path, 8, [("alice@a.example", "done")])
    with Store.open(path, now=lambda: T0) as store:
        assert store.schema_version() == migrations.LATEST
        assert store.posts.remembered_deletes(T0) == set()
        store.posts.remember_delete("a.example", "7")
        assert store.boosts.is_boosted(f"{URI}/0")
    with Store.open(path, now=lambda: T0) as store:  # kept across a restart
        assert store.posts.remembered_deletes(T0) == {("a.example", "7")}
        assert store.posts.take_delete("a.example", "7", T0)


def test_migrations_are_each_applied_once(tmp_path: Path) -> None:
    """Reopening an up-to-date file applies nothing."""
    path = tmp_path / "state.db"
    Store.open(path).close()
    conn = open_raw(path)
    try:
        assert migrations.apply(conn) == []
    finally:
        conn.close()


def test_failed_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    """A migration that fails half-way is rolled back whole, user_version included."""
    path = tmp_path / "state.db"
    conn = open_raw(path)
    try:
        migrations.apply(conn, upto=1)
        conn.execute("CREATE TABLE consent (clash INTEGER)")  # migration 2 will collide with it
        with pytest.raises(sqlite3.OperationalError, match="already exists"):
            migrations.apply(conn)
        assert migrations.schema_version(conn) == 1
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "blocks" not in tables
        assert not conn.in_transaction
    finally:
        conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A file from a newer relay is refused, naming both versions and the upgrade."""
    path = tmp_path / "state.db"
    Store.open(path).close()
    conn = open_raw(path)
    try:
        conn.execute(f"PRAGMA user_version = {migrations.LATEST + 3}")
    finally:
        conn.close()
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    assert f"schema version {migrations.LATEST + 3}" in str(caught.value)
    assert f"up to {migrations.LATEST}" in str(caught.value)
    assert caught.value.fix is not None
    assert "upgrade relay" in caught.value.fix
    assert caught.value.exit_code == 2


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    """A file that is not a database gives a StoreError with a fix, not a traceback."""
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not an sqlite database, just some text " * 100)
    with pytest.raises(StoreError, match="not a usable relay database") as caught:
        Store.open(path)
    assert caught.value.fix is not None
    assert "backup" in caught.value.fix


def test_damaged_database_is_refused(tmp_path: Path) -> None:
    """A database whose pages were overwritten fails the quick check and is refused."""
    path = tmp_path / "state.db"
    with Store.open(path) as store:
        for n in range(300):
            store.audit_log.audit("filler", actor="relay", detail="x" * 200, now=T0, uri=f"u{n}")
    conn = open_raw(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    for page in range(2, len(data) // page_size):
        data[page * page_size + 8 : page * page_size + 64] = b"\xff" * 56
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    assert "corrupt" in str(caught.value) or "not a usable" in str(caught.value)


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    """A path in a directory that does not exist gives a StoreError naming the path."""
    with pytest.raises(StoreError, match="cannot open") as caught:
        Store.open(tmp_path / "nowhere" / "state.db")
    assert "nowhere" in str(caught.value)


def test_write_while_another_process_holds_the_write_lock_fails_fast(tmp_path: Path) -> None:
    """A write blocked by another connection's exclusive transaction gives StoreError, no hang."""
    path = tmp_path / "state.db"
    Store.open(path).close()
    other = open_raw(path)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with Store.open(path, busy_timeout=0.2) as store:
            started = time.monotonic()
            with pytest.raises(StoreError, match="locked") as caught:
                store.audit_log.audit("act", actor="relay", now=T0)
            assert time.monotonic() - started < 5
            assert caught.value.fix is not None
            assert "another process" in caught.value.fix
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_failed_writes_leave_the_store_usable_from_any_thread(tmp_path: Path) -> None:
    """After a write that could not begin (locked) and one that failed inside (a constraint), the
    transaction is closed and the store's lock released: another thread writes at once."""
    path = tmp_path / "state.db"
    with Store.open(path, busy_timeout=0.2) as store:
        other = open_raw(path)
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError, match="locked"):
            store.audit_log.audit("blocked", actor="relay", now=T0)
        other.execute("ROLLBACK")
        other.close()
        store.posts.mark_retracted(URI, "deleted", T0)
        with pytest.raises(sqlite3.IntegrityError):
            store.posts.add_screened(
                URI, Verdict(Decision.ACCEPT), source="a", acct="a@a.example", url=None, edited_at=None,
                text_fingerprint="", now=T0,
            )  # fmt: skip
        done: list[int] = []
        writer = threading.Thread(
            target=lambda: done.append(store.audit_log.audit("after", actor="relay", now=T0))
        )
        writer.start()
        writer.join(timeout=10)
        assert len(done) == 1
        assert [r.action for r in store.audit_log.audit_rows()] == ["post.retracted", "after"]
        assert not store._conn.in_transaction


def test_open_while_another_process_holds_the_lock_fails_fast(tmp_path: Path) -> None:
    """Opening a file that another connection locked exclusively gives StoreError, no hang."""
    path = tmp_path / "state.db"
    other = open_raw(path)  # a rollback-journal file: an exclusive lock blocks readers too
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO t VALUES (1)")
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="locked"):
            Store.open(path, busy_timeout=0.2)
        assert time.monotonic() - started < 5
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_readonly_store_reads_while_the_relay_writes(tmp_path: Path) -> None:
    """A read-only store sees committed state from the writer and refuses to write."""
    path = tmp_path / "state.db"
    with Store.open(path) as writer:
        writer.audit_log.audit("started", actor="relay", now=T0)
        with Store.open(path, readonly=True) as reader:
            assert [r.action for r in reader.audit_log.audit_rows()] == ["started"]
            writer.audit_log.audit("more", actor="relay", now=T0)
            assert [r.action for r in reader.audit_log.audit_rows()] == ["started", "more"]
            with pytest.raises(StoreError, match="read-only"):
                reader.audit_log.audit("sneaky", actor="relay", now=T0)


def test_readonly_open_of_a_missing_file_is_refused(tmp_path: Path) -> None:
    """A read-only open does not create a file: it says there is no state yet."""
    with pytest.raises(StoreError, match="no relay state file"):
        Store.open(tmp_path / "state.db", readonly=True)
    assert not (tmp_path / "state.db").exists()


def test_readonly_open_of_an_old_schema_is_refused(tmp_path: Path) -> None:
    """A read-only open of a file at an older schema asks to start the relay to migrate it."""
    path = tmp_path / "state.db"
    conn = open_raw(path)
    try:
        migrations.apply(conn, upto=1)
    finally:
        conn.close()
    with pytest.raises(StoreError, match="older") as caught:
        Store.open(path, readonly=True)
    assert caught.value.fix is not None
    assert "start the relay" in caught.value.fix
