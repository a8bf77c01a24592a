"""Every state the store writes goes through the lifecycle tables (relay.core.lifecycle): a move the
tables refuse raises IllegalTransition, is logged, and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import storehelp
from structlog.testing import capture_logs

from relay.core.lifecycle import MOVES, Event, JournalKind, JournalState, State
from relay.core.verdict import Decision, Reason, Verdict
from relay.errors import IllegalTransition
from relay.store.store import Store

URI = "https://social.example/users/alice/statuses/1"
MOD = "mod@social.example"
HOLD = Verdict(Decision.HOLD, (Reason("mode", Decision.HOLD, "review mode"),))
# How to bring a fresh held item to each state, by the table's own moves.
TO = {
    State.HELD: (),
    State.APPROVED: (Event.APPROVE,),
    State.BOOSTED: (Event.APPROVE, Event.BOOST),
    State.REJECTED: (Event.REJECT,),
    State.RETRACTED: (Event.RETRACT,),
    State.FAILED: (Event.APPROVE, Event.FAIL),
    State.EXPIRED: (Event.EXPIRE,),
}
LEGAL = {(frm, event) for frm, event, _ in MOVES}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in a temporary file."""
    with Store.open(tmp_path / "state.db") as opened:
        yield opened


def held_in(store: Store, state: State) -> str:
    """A post held and then moved to `state`; its short id."""
    storehelp.arrive(
        store,
        URI,
        source="home",
        acct="alice@social.example",
        url=None,
        edited_at=None,
        text_fingerprint="fp",
    )
    short_id = store.queue.hold(URI, HOLD)
    for event in TO[state]:
        store.queue.move(short_id, event, MOD)
    return short_id


def snapshot(store: Store) -> list[list[tuple[object, ...]]]:
    """Every row of the tables a move may write."""
    tables = ("queue", "audit", "journal")
    return [store._conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables]  # noqa: S608


class TestQueue:
    @pytest.mark.parametrize(("frm", "event"), sorted(LEGAL), ids=[f"{f}-{e}" for f, e in sorted(LEGAL)])
    def test_every_move_in_the_table_is_written_and_audited(
        self, store: Store, frm: State, event: Event
    ) -> None:
        """A move the table allows is written as the table's new state and audited as queue.<state>."""
        short_id = held_in(store, frm)
        to = dict(((f, e), t) for f, e, t in MOVES)[(frm, event)]
        item = (
            store.queue.hold(URI, HOLD)
            if event is Event.HOLD
            else store.queue.move(short_id, event, MOD, "why")
        )
        assert (store.queue.queue_item(short_id) or item).state is to
        assert store.audit_log.audit_rows(uri=URI)[-1].action == f"queue.{to}"

    @pytest.mark.parametrize(
        ("frm", "event"),
        [(f, e) for f in State for e in Event if (f, e) not in LEGAL and e is not Event.HOLD],
        ids=lambda v: str(v),
    )
    def test_a_move_not_in_the_table_raises_is_logged_and_writes_nothing(
        self, store: Store, frm: State, event: Event
    ) -> None:
        """`move_queue` refuses a move the table does not have: IllegalTransition, a
        queue.illegal_move warning, and the item, the audit log and the journal unchanged."""
        short_id = held_in(store, frm)
        before = snapshot(store)
        with (
            capture_logs() as logs,
            pytest.raises(IllegalTransition, match=f"can't {event} a post that is {frm}"),
        ):
            store.queue.move(short_id, event, MOD, "why")
        assert snapshot(store) == before
        assert [(e["event"], e["log_level"], e["state"], e["move"]) for e in logs] == [
            ("queue.illegal_move", "warning", frm, event)
        ]

    @pytest.mark.parametrize("frm", [State.REJECTED, State.RETRACTED, State.FAILED, State.EXPIRED])
    def test_hold_from_a_state_the_table_refuses_writes_nothing(self, store: Store, frm: State) -> None:
        """`hold` is the table's `hold` move: from a rejected, retracted, failed or expired item it
        raises and is logged, and the item stays as it was (it used to become held from any state)."""
        held_in(store, frm)
        before = snapshot(store)
        with (
            capture_logs() as logs,
            pytest.raises(IllegalTransition, match=f"can't hold a post that is {frm}"),
        ):
            store.queue.hold(URI, HOLD)
        assert snapshot(store) == before
        assert [e["event"] for e in logs] == ["queue.illegal_move"]

    def test_a_refused_move_inside_a_transaction_leaves_the_rest_of_it(self, store: Store) -> None:
        """A refused move writes nothing, and what the enclosing transaction wrote before it stays."""
        short_id = held_in(store, State.HELD)
        with store.atomic():
            store.queue.move(short_id, Event.APPROVE, MOD)
            with pytest.raises(IllegalTransition):
                store.queue.move(short_id, Event.APPROVE, "second@social.example")
        item = store.queue.queue_item(short_id)
        assert item is not None
        assert (item.state, item.actor) == (State.APPROVED, MOD)

    def test_items_carry_the_lifecycle_state(self, store: Store) -> None:
        """A queue item's state is the lifecycle's enum, not a bare string."""
        held_in(store, State.HELD)
        assert all(type(item.state) is State for item in store.queue.pending())


class TestJournal:
    def test_finishing_a_finished_entry_raises_is_logged_and_writes_nothing(self, store: Store) -> None:
        """A done boost is not finished again (`done` is final in the journal table): IllegalTransition,
        a journal.illegal_move warning, and the journal unchanged."""
        held_in(store, State.HELD)
        store.boosts.boost_intent(URI, "1")
        store.boosts.boost_done(URI, "r1")
        before = snapshot(store)
        for finish in (
            lambda: store.boosts.boost_failed(URI, "late"),
            lambda: store.boosts.boost_done(URI, "r2"),
        ):
            with capture_logs() as logs, pytest.raises(IllegalTransition, match="a boost that is done"):
                finish()
            assert [(e["event"], e["kind"], e["state"]) for e in logs] == [
                ("journal.illegal_move", "boost", "done")
            ]
        assert snapshot(store) == before

    def test_a_cancelled_intent_is_not_done_afterwards(self, store: Store) -> None:
        """An intent cancelled (failed) while the booster was at it cannot then be recorded as done."""
        held_in(store, State.HELD)
        store.boosts.unboost_intent(URI, None)
        store.boosts.unboost_failed(URI, "cancelled")
        with pytest.raises(IllegalTransition, match="can't succeed a unboost that is failed"):
            store.boosts.unboost_done(URI)
        assert [(e.kind, e.state) for e in store.boosts.journal(URI)] == [
            (JournalKind.UNBOOST, JournalState.FAILED)
        ]

    def test_entries_carry_the_lifecycle_kind_and_state(self, store: Store) -> None:
        """Journal entries read back with the lifecycle's enums."""
        held_in(store, State.HELD)
        store.boosts.boost_intent(URI, "1")
        (entry,) = store.boosts.unfinished_intents(JournalKind.BOOST)
        assert (type(entry.kind), type(entry.state)) == (JournalKind, JournalState)
        assert store.boosts.intent_count(JournalKind.BOOST) == 1
        assert store.boosts.intent_count(JournalKind.UNBOOST) == 0
