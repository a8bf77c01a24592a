"""The pure dedupe decision, alone and through a real store under any order of arrivals."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from storehelp import arrive

from relay.core.dedupe import Arrival, Stored, decide, is_newer
from relay.store.store import Store

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class TestDecide:
    def test_first_sighting_is_screened(self) -> None:
        """A uri with nothing stored is screened."""
        assert decide(None, None) is Arrival.SCREEN
        assert decide(None, "2026-01-01T00:00:00.000Z") is Arrival.SCREEN

    def test_same_version_is_a_duplicate(self) -> None:
        """The same version again, edited or not, is a duplicate."""
        assert decide(Stored(None), None) is Arrival.DUPLICATE
        assert decide(Stored("2026-01-01T00:00:00.000Z"), "2026-01-01T00:00:00.000Z") is Arrival.DUPLICATE

    def test_newer_edit_is_rescreened(self) -> None:
        """A first edit, or an edit later than the stored one, is screened again."""
        assert decide(Stored(None), "2026-01-01T00:00:00.000Z") is Arrival.RESCREEN
        assert decide(Stored("2026-01-01T00:00:00.000Z"), "2026-01-01T00:00:01.000Z") is Arrival.RESCREEN

    def test_a_quote_moving_on_is_rescreened(self) -> None:
        """The same `edited_at` with the quote further on (revoked, its quoted post deleted, or a
        pending quote accepted) is screened again; a stale copy of the quote before it is not."""
        edit = "2026-01-01T00:00:00.000Z"
        assert decide(Stored(None, quote_state="accepted"), None, "revoked") is Arrival.RESCREEN
        assert decide(Stored(edit, quote_state="accepted"), edit, "deleted") is Arrival.RESCREEN
        assert decide(Stored(None, quote_state="pending"), None, "accepted") is Arrival.RESCREEN
        assert decide(Stored(None, quote_state="revoked"), None, "accepted") is Arrival.DUPLICATE
        assert decide(Stored(None, quote_state="revoked"), None, "deleted") is Arrival.DUPLICATE
        assert decide(Stored(edit, quote_state="accepted"), None, "revoked") is Arrival.DUPLICATE

    def test_a_newer_edit_wins_over_the_quote_state(self) -> None:
        """An edit is newer whatever its quote says; an older edit is stale whatever its quote says."""
        old, new = "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z"
        assert decide(Stored(old, quote_state="revoked"), new, "accepted") is Arrival.RESCREEN
        assert decide(Stored(new, quote_state="accepted"), old, "revoked") is Arrival.DUPLICATE

    def test_stale_copy_is_a_duplicate(self) -> None:
        """An older version (or the unedited original) arriving late is a duplicate."""
        assert decide(Stored("2026-01-01T00:00:01.000Z"), "2026-01-01T00:00:00.000Z") is Arrival.DUPLICATE
        assert decide(Stored("2026-01-01T00:00:01.000Z"), None) is Arrival.DUPLICATE

    def test_retracted_wins_over_everything(self) -> None:
        """A retracted uri stays retracted whatever version arrives."""
        assert decide(Stored(None, retracted=True), None) is Arrival.RETRACTED
        assert decide(Stored(None, retracted=True), "2030-01-01T00:00:00Z") is Arrival.RETRACTED

    def test_versions_compare_as_instants(self) -> None:
        """Offsets and precision do not change the order of two edits."""
        assert not is_newer("2026-01-01T01:00:00+01:00", "2026-01-01T00:00:00.000Z")
        assert is_newer("2026-01-01T00:00:00.001Z", "2026-01-01T00:00:00Z")
        assert is_newer("2026-01-01T00:00:00", "2025-12-31T23:59:59Z")

    def test_malformed_version_never_hides_a_real_edit(self) -> None:
        """A malformed edited_at counts as an edit of the original but is older than any real one."""
        assert is_newer("garbage", None)
        assert is_newer("2026-01-01T00:00:00Z", "garbage")
        assert not is_newer("garbage", "2026-01-01T00:00:00Z")


# -- the property: any order of arrivals from any number of sources -------------------------------


@dataclass(frozen=True)
class Event:
    """One thing that happens to a uri: an arrival of a version from a source, or a deletion."""

    uri: int
    version: int  # 0 = unedited, n = the n-th edit
    source: int
    delete: bool = False


def _edited_at(version: int) -> str | None:
    return None if version == 0 else (T0 + timedelta(minutes=version)).isoformat()


events = st.lists(
    st.builds(
        Event,
        uri=st.integers(0, 3),
        version=st.integers(0, 4),
        source=st.integers(0, 4),
    ),
    min_size=1,
    max_size=40,
)
deletions = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40)), max_size=3)


def _run(store: Store, arrivals: list[Event], deletes: list[tuple[int, int]]) -> list[tuple[Event, Arrival]]:
    """Feed arrivals (with deletions spliced in at the given positions); return the outcomes."""
    script: list[Event] = list(arrivals)
    for uri, position in sorted(deletes, key=lambda d: -d[1]):
        script.insert(min(position, len(script)), Event(uri, 0, 0, delete=True))
    outcomes = []
    for i, event in enumerate(script):
        now = T0 + timedelta(seconds=i)
        if event.delete:
            store.posts.mark_retracted(f"https://a.example/{event.uri}", "deleted", now)
            outcomes.append((event, Arrival.RETRACTED))
            continue
        arrival = arrive(
            store,
            f"https://a.example/{event.uri}",
            source=f"source-{event.source}",
            acct="alice@a.example",
            url=None,
            edited_at=_edited_at(event.version),
            text_fingerprint=f"fp-{event.uri}-{event.version}",
            now=now,
        )
        outcomes.append((event, arrival))
    return outcomes


@settings(max_examples=150, deadline=None)
@given(arrivals=events, deletes=deletions)
def test_any_order_screens_each_uri_once_and_each_newer_edit_once(
    arrivals: list[Event], deletes: list[tuple[int, int]]
) -> None:
    """Any order of arrivals and deletions: one SCREEN per uri, one RESCREEN per newer edit, and
    nothing screened after a retraction."""
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "state.db") as store:
        outcomes = _run(store, arrivals, deletes)
    for uri in {e.uri for e, _ in outcomes}:
        # (the deletions themselves are listed as RETRACTED, in the order they happened)
        mine = [(e, a) for e, a in outcomes if e.uri == uri]
        kinds = [a for _, a in mine]
        screened = [e.version for e, a in mine if a in (Arrival.SCREEN, Arrival.RESCREEN)]
        deleted_at = next((i for i, (e, _) in enumerate(mine) if e.delete), len(mine))
        # from the first deletion on, every arrival (stale copies included) is RETRACTED
        assert all(a is Arrival.RETRACTED for a in kinds[deleted_at:])
        assert Arrival.RETRACTED not in kinds[:deleted_at]
        # at most one SCREEN; each screened version strictly newer than the one screened before
        assert kinds.count(Arrival.SCREEN) <= 1
        assert screened == sorted(set(screened))
        # before the deletion: SCREEN first, then RESCREEN exactly for a version newer than all
        # that arrived before it, DUPLICATE for everything else
        best = -1
        for event, arrival in mine[:deleted_at]:
            if best < 0:
                expected = Arrival.SCREEN
            elif event.version > best:
                expected = Arrival.RESCREEN
            else:
                expected = Arrival.DUPLICATE
            assert arrival is expected
            best = max(best, event.version)


@settings(max_examples=100, deadline=None)
@given(
    versions=st.lists(st.integers(0, 5), min_size=1, max_size=6, unique=True).map(sorted),
    copies=st.integers(1, 4),
    sources=st.integers(1, 5),
)
def test_edits_in_order_from_many_sources_rescreen_once_per_distinct_edit(
    versions: list[int], copies: int, sources: int
) -> None:
    """Every version delivered by every source, in edit order: exactly one SCREEN and one
    RESCREEN per distinct newer edit, all else DUPLICATE."""
    arrivals = [
        Event(0, version, (version + k) % sources) for version in versions for k in range(copies * sources)
    ]
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "state.db") as store:
        kinds = [a for _, a in _run(store, arrivals, [])]
    assert kinds.count(Arrival.SCREEN) == 1
    assert kinds.count(Arrival.RESCREEN) == len(versions) - 1
    assert kinds.count(Arrival.DUPLICATE) == len(arrivals) - len(versions)
