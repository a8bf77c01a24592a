"""The store's people and operations state: audit log, consent, blocks, trust, settings, history,
statistics."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storehelp import arrive

from relay.core.history import History
from relay.core.verdict import Decision, Reason, Verdict
from relay.store.records import SourceStats
from relay.store.store import Store

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MOD = "mod@home.example"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in a temporary file, whose clock stands at T0."""
    with Store.open(tmp_path / "state.db", now=lambda: T0) as opened:
        yield opened


def seen(store: Store, uri: str, acct: str, fingerprint: str = "fp", now: datetime = T0) -> None:
    """Observe a post."""
    arrive(
        store, uri, source="home", acct=acct, url=None, edited_at=None, text_fingerprint=fingerprint, now=now
    )


def boosted(store: Store, uri: str, acct: str, now: datetime) -> None:
    """Observe and boost a post, done at `now`."""
    seen(store, uri, acct, fingerprint=uri, now=now)
    store.boosts.boost_intent(uri, None, now)
    store.boosts.boost_done(uri, None, now)


class TestAudit:
    def test_rows_filter_and_limit(self, store: Store) -> None:
        """Rows come oldest first, filtered by time, actor and uri; a limit keeps the newest."""
        for n in range(5):
            store.audit_log.audit(
                f"act{n}", actor="relay" if n % 2 else MOD, uri=f"u{n % 2}", now=T0 + timedelta(n)
            )
        assert [r.action for r in store.audit_log.audit_rows()] == ["act0", "act1", "act2", "act3", "act4"]
        assert [r.action for r in store.audit_log.audit_rows(actor=MOD)] == ["act0", "act2", "act4"]
        assert [r.action for r in store.audit_log.audit_rows(uri="u1")] == ["act1", "act3"]
        assert [r.action for r in store.audit_log.audit_rows(since=T0 + timedelta(3))] == ["act3", "act4"]
        assert [r.action for r in store.audit_log.audit_rows(limit=2)] == ["act3", "act4"]
        assert store.audit_log.audit_rows()[2].at == T0 + timedelta(2)

    def test_audit_log_is_append_only(self, store: Store, tmp_path: Path) -> None:
        """Even a direct SQL update or delete of an audit row is refused by the database."""
        store.audit_log.audit("act", actor=MOD)
        conn = sqlite3.connect(tmp_path / "state.db")
        try:
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute("UPDATE audit SET actor = 'someone else'")
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute("DELETE FROM audit")
        finally:
            conn.close()


class TestConsentBlocksTrust:
    def test_consent_is_stored_cleared_and_audited(self, store: Store) -> None:
        """Opt-out, opt-in and clearing are kept per account (case-insensitive) and audited."""
        store.people.set_consent("@Alice@A.example", "opt-out", "alice@a.example")
        assert store.people.consent("alice@a.example") == "opt-out"
        store.people.set_consent("alice@a.example", "opt-in", MOD)
        assert store.people.consent("ALICE@a.example") == "opt-in"
        store.people.set_consent("alice@a.example", None, MOD)
        assert store.people.consent("alice@a.example") is None
        assert [r.action for r in store.audit_log.audit_rows()] == [
            "consent.opt-out",
            "consent.opt-in",
            "consent.cleared",
        ]
        with pytest.raises(ValueError, match="unknown consent"):
            store.people.set_consent("alice@a.example", "maybe", MOD)

    def test_blocks_and_trust_are_listed_lifted_and_audited(self, store: Store) -> None:
        """Blocks (account or domain) and trust are listed, lifted, and every change audited."""
        store.people.block("spam.example", "spam farm", MOD)
        store.people.block("troll@b.example", "abuse", MOD, T0 + timedelta(1))
        store.people.trust("carol@c.example", MOD)
        assert [(b.target, b.kind, b.reason) for b in store.people.blocks()] == [
            ("spam.example", "domain", "spam farm"),
            ("troll@b.example", "account", "abuse"),
        ]
        assert [t.acct for t in store.people.trusts()] == ["carol@c.example"]
        assert store.people.unblock("spam.example", MOD)
        assert not store.people.unblock("spam.example", MOD)
        assert store.people.untrust("@Carol@C.example", MOD)
        assert not store.people.untrust("carol@c.example", MOD)
        assert [b.target for b in store.people.blocks()] == ["troll@b.example"]
        assert store.people.trusts() == []
        assert [(r.action, r.target, r.detail) for r in store.audit_log.audit_rows(actor=MOD)] == [
            ("block.domain", "spam.example", "spam farm"),
            ("block.account", "troll@b.example", "abuse"),
            ("trust", "carol@c.example", None),
            ("unblock", "spam.example", None),
            ("unblock", "spam.example", "was not blocked"),
            ("untrust", "carol@c.example", None),
            ("untrust", "carol@c.example", "was not trusted"),
        ]

    def test_paused_flag(self, store: Store) -> None:
        """Pausing and resuming are stored and audited."""
        assert not store.settings.paused()
        store.settings.set_paused(True, MOD)
        assert store.settings.paused()
        store.settings.set_paused(False, MOD)
        assert not store.settings.paused()
        assert [r.action for r in store.audit_log.audit_rows()] == ["pause", "resume"]
        store.settings.set_setting("greeting", "hello")
        assert store.settings.get_setting("greeting") == "hello"
        assert store.settings.get_setting("missing") is None


class TestHistory:
    def test_unknown_author_has_an_empty_history(self, store: Store) -> None:
        """An author the store knows nothing about gets the default History."""
        assert store.people.history("new@a.example", "fp", uri="https://a.example/1") == History()

    def test_boosts_in_the_last_24_hours_are_counted(self, store: Store) -> None:
        """Only the author's boosts of the 24 h before `now` count."""
        boosted(store, "https://a.example/old", "alice@a.example", T0 - timedelta(hours=25))
        boosted(store, "https://a.example/1", "alice@a.example", T0 - timedelta(hours=2))
        boosted(store, "https://a.example/2", "alice@a.example", T0 - timedelta(minutes=1))
        boosted(store, "https://b.example/1", "bob@b.example", T0)
        assert store.people.history("alice@a.example", "x", T0, uri="new").boosts_last_24h == 2

    def test_every_post_accepted_for_boosting_counts_once_whatever_became_of_it(self, store: Store) -> None:
        """The count is of the author's posts with a boost intent written in the 24 h: open, done,
        failed (a dry run) or undone since (a delete, an edit) alike, each post once however many
        times it was boosted, and never the post being screened."""
        acct, hour_ago = "alice@a.example", T0 - timedelta(hours=1)
        uris = [f"https://a.example/{n}" for n in range(5)]
        for uri in uris:
            seen(store, uri, acct, fingerprint=uri, now=hour_ago)
            store.boosts.boost_intent(uri, None, hour_ago)
        store.boosts.boost_done(uris[1], "r1", hour_ago)
        store.boosts.boost_failed(uris[2], "dry run", hour_ago)
        for uri in uris[3:]:  # boosted, then undone
            store.boosts.boost_done(uri, None, hour_ago)
            store.boosts.unboost_intent(uri, None, hour_ago)
            store.boosts.unboost_done(uri, hour_ago)
        store.boosts.boost_intent(uris[4], None, T0)  # boosted again after an edit: still one post
        store.posts.mark_retracted(uris[3], "deleted by its author", T0)
        assert store.people.history(acct, "x", T0, uri="new").boosts_last_24h == 5
        assert store.people.history(acct, "x", T0, uri=uris[4]).boosts_last_24h == 4
        assert store.people.history(acct, "x", T0 + timedelta(hours=23), uri="new").boosts_last_24h == 5
        assert (
            store.people.history(acct, "x", T0 + timedelta(hours=23, seconds=1), uri="new").boosts_last_24h
            == 1
        )

    def test_same_text_under_another_uri_is_seen(self, store: Store) -> None:
        """The same fingerprint from the same author under another uri is flagged; itself is not."""
        seen(store, "https://a.example/1", "alice@a.example", "same")
        seen(store, "https://b.example/9", "bob@b.example", "other")
        assert not store.people.history("alice@a.example", "same", uri="https://a.example/1").same_text_seen
        seen(store, "https://a.example/2", "alice@a.example", "same")
        assert store.people.history("alice@a.example", "same", uri="https://a.example/2").same_text_seen
        assert not store.people.history("bob@b.example", "same", uri="https://b.example/2").same_text_seen
        seen(store, "https://a.example/3", "alice@a.example", "")
        assert not store.people.history("alice@a.example", "", uri="https://a.example/4").same_text_seen

    def test_consent_blocks_and_trust_reach_history(self, store: Store) -> None:
        """Consent, account and domain blocks (subdomains included) and trust show in History."""
        store.people.set_consent("alice@a.example", "opt-out", "alice@a.example")
        store.people.block("eve@m.bad.example", "impersonation", MOD)
        store.people.block("bad.example", "spam farm", MOD)
        store.people.trust("carol@c.example", MOD)
        assert store.people.history("alice@a.example", "fp", uri="u").opted_out
        eve = store.people.history("Eve@M.Bad.example", "fp", uri="u")
        assert (eve.account_blocked, eve.domain_blocked) == ("impersonation", "spam farm")
        assert store.people.history("x@bad.example", "fp", uri="u").domain_blocked == "spam farm"
        assert store.people.history("x@notbad.example", "fp", uri="u").domain_blocked is None
        assert store.people.history("carol@c.example", "fp", uri="u").trusted
        store.people.set_consent("dave@d.example", "opt-in", "dave@d.example")
        assert store.people.history("dave@d.example", "fp", uri="u").opted_in

    def test_the_longest_domain_block_covering_the_domain_is_found_among_many(self, store: Store) -> None:
        """A block list of hundreds: each domain gets the longest block that covers it (itself or
        a parent), never one it merely ends with, whatever the block list holds."""
        blocked = ["example", "b.example", "c.b.example", "x.y.z.w.v.u.t.s.r.q.deep.example", "solo"]
        for n in range(300):
            store.people.block(f"noise{n}.example.org", "noise", MOD)
            store.people.block(f"someone@noise{n}.example.org", "noise", MOD)
        for target in blocked:
            store.people.block(target, f"block {target}", MOD)

        def reference(domain: str) -> str | None:  # the rule, stated plainly
            if domain.startswith("noise"):
                return "noise"
            covering = [t for t in blocked if domain == t or domain.endswith("." + t)]
            return f"block {max(covering, key=len)}" if covering else None

        for domain in [
            "d.c.b.example", "c.b.example", "xc.b.example", "b.example", "a.example", "example",
            "notexample", "a.x.y.z.w.v.u.t.s.r.q.deep.example", "y.z.w.v.u.t.s.r.q.deep.example",
            "solo", "a.solo", "solo.org", "noise1.example.org", "example.org",
        ]:  # fmt: skip
            found = store.people.history(f"someone@{domain}", "fp", uri="u").domain_blocked
            assert found == reference(domain), domain
        assert store.people.history("local-user", "fp", uri="u").domain_blocked is None  # no domain: none

    def test_a_domain_of_the_most_labels_dns_allows_is_screened(self, store: Store) -> None:
        """A server may name itself with 127 labels: every parent is still looked up (SQLite takes
        at most 127 arguments a function), the nearest block found, and none found is none."""
        deep = "a." * 126 + "example"
        assert store.people.history(f"x@{deep}", "fp", uri="u").domain_blocked is None
        store.people.block("example", "all of it", MOD)
        assert store.people.history(f"x@{deep}", "fp", uri="u").domain_blocked == "all of it"
        store.people.block(deep[60:], "nearer", MOD)
        assert store.people.history(f"x@{deep}", "fp", uri="u").domain_blocked == "nearer"
        assert store.people.history("x@example", "fp", uri="u").domain_blocked == "all of it"


class TestStats:
    def test_status_counts_the_last_24_hours(self, store: Store) -> None:
        """Verdicts by decision and rule, queue length, boosts and sources cover the last 24 h."""
        spam = Reason("keywords", Decision.REJECT, "matched 'crypto'")
        new = Reason("new-account", Decision.HOLD, "2 days old")
        for n, verdict in enumerate(
            [
                Verdict(Decision.ACCEPT),
                Verdict(Decision.REJECT, (spam,)),
                Verdict(Decision.HOLD, (new,)),
                Verdict(Decision.REJECT, (spam, new)),
            ]
        ):
            uri = f"https://a.example/{n}"
            seen(store, uri, "alice@a.example")
            store.posts.record_verdict(uri, verdict, T0 - timedelta(hours=n))
        seen(store, "https://a.example/old", "alice@a.example")
        store.posts.record_verdict("https://a.example/old", Verdict(Decision.ACCEPT), T0 - timedelta(2))
        store.queue.hold("https://a.example/2", Verdict(Decision.HOLD, (new,)))
        boosted(store, "https://a.example/b", "alice@a.example", T0)
        store.statistics.record_source_event("home", T0 - timedelta(1))
        store.statistics.record_source_event("home", T0)
        store.statistics.record_source_event("home", T0)
        store.statistics.record_source_event("other", T0 - timedelta(1))
        stats = store.statistics.stats(T0)
        assert stats.verdicts_by_decision == {"accept": 1, "reject": 2, "hold": 1}
        assert stats.verdicts_by_rule == {"keywords": 2, "new-account": 2}
        assert (stats.queue_length, stats.boosts_last_24h) == (1, 1)
        assert stats.sources == (
            SourceStats("home", T0, 2),
            SourceStats("other", T0 - timedelta(1), 0),
        )

    def test_naive_datetime_is_refused(self, store: Store) -> None:
        """A naive datetime never reaches the file: times must be timezone-aware."""
        with pytest.raises(ValueError, match="naive datetime"):
            store.audit_log.audit("act", actor=MOD, now=datetime(2026, 1, 1))
