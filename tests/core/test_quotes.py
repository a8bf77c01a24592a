"""Quote posts: reading Mastodon 4.5's `quote` (relay.core.post) and screening a quote together
with what it quotes (relay.core.screen.check_quote), one test per quote state."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from statusgen import hoot, quote_status, quoted_status

from relay.config.rules import parse_rules
from relay.core.history import History
from relay.core.mastodon_json import MalformedStatus
from relay.core.post import QUOTE_STATES, Post, Quote, quote_progress
from relay.core.rules import Rules
from relay.core.screen import EXCERPT_CHARS, screen
from relay.core.verdict import Decision, Reason, Verdict

NOW = datetime(2026, 8, 2, 12, 0, tzinfo=UTC)
ACCEPT, HOLD, REJECT = Decision.ACCEPT, Decision.HOLD, Decision.REJECT
SOURCE = "localhost:3000"


def rules(mode: str = "open", **table: Any) -> Rules:
    """Rules watching #hoot in `mode` with `table` as the [rules] table."""
    return parse_rules(
        table, hashtags=["hoot"], mode=mode, self_acct=None, base_dir=Path("."), source="relay.toml"
    )


def post_of(status: dict[str, Any]) -> Post:
    return Post.from_status(status, source=SOURCE)


def verdict(status: dict[str, Any], the_rules: Rules | None = None, quoted: History | None = None) -> Verdict:
    """Screen `status` at NOW (open mode, default rules) with the quoted author's `quoted` history."""
    return screen(post_of(status), the_rules or rules(), History(quoted=quoted), NOW)


def refusals(result: Verdict) -> list[tuple[str, Decision]]:
    """The (rule, decision) of each reason that did not accept."""
    return [(r.rule, r.decision) for r in result.reasons if r.decision is not ACCEPT]


class TestReading:
    def test_real_statuses_carry_no_quote(self) -> None:
        """A recorded Mastodon 4.6 status with `quote: null` is not a quote."""
        assert post_of(hoot()).quote is None

    def test_a_server_before_4_4_sends_no_quote_field(self) -> None:
        """A status without the field (older Mastodon, other software) is not a quote."""
        status = hoot()
        del status["quote"]
        assert post_of(status).quote is None

    def test_accepted_quote_reads_the_quoted_post(self) -> None:
        """The quoted status becomes a Post: its author's handle, bio tags, bot flag, text and uri."""
        quoted = quoted_status(text="Read this.", note="<p>Therapist. #NoBot</p>", bot=True)
        quote = post_of(quote_status(quoted)).quote
        assert quote is not None
        assert quote.state == "accepted"
        assert quote.quoted is not None
        inner = quote.quoted
        assert inner.author.acct == "quoted@elsewhere.example"
        assert inner.author.domain == "elsewhere.example"
        assert inner.author.uri == "https://elsewhere.example/users/quoted"
        assert "nobot" in inner.author.profile_tags
        assert inner.author.bot
        assert inner.text == "Read this."
        assert inner.uri == "https://elsewhere.example/users/quoted/statuses/1"
        assert quote.quoted_id == inner.id == "117020593741180000"

    def test_a_local_quoted_author_gets_the_source_domain(self) -> None:
        """A quoted account written without a domain is local to the instance the post came from."""
        quoted = quoted_status()
        quoted["account"]["acct"] = "neighbour"
        quote = post_of(quote_status(quoted)).quote
        assert quote is not None
        assert quote.quoted is not None
        assert quote.quoted.author.acct == "neighbour@localhost:3000"

    def test_the_nested_shallow_quote_is_read_as_an_id(self) -> None:
        """The quoted status's own quote is a ShallowQuote: its state and `quoted_status_id` only."""
        quoted = quoted_status()
        quoted["quote"] = {"state": "accepted", "quoted_status_id": "42"}
        quote = post_of(quote_status(quoted)).quote
        assert quote is not None
        assert quote.quoted is not None
        assert quote.quoted.quote == Quote(state="accepted", quoted=None, quoted_id="42")

    def test_a_shallow_quote_at_the_top_is_read_too(self) -> None:
        """A status carrying the ShallowQuote form itself gives a quote of a post known by id only."""
        status = hoot()
        status["quote"] = {"state": "accepted", "quoted_status_id": 7}
        assert post_of(status).quote == Quote(state="accepted", quoted=None, quoted_id="7")

    @pytest.mark.parametrize("state", QUOTE_STATES)
    def test_every_state_is_kept(self, state: str) -> None:
        """Each of Mastodon's nine quote states is read as it is."""
        quote = post_of(quote_status(quoted_status(), state)).quote
        assert quote is not None
        assert quote.state == state

    def test_an_unknown_state_is_unauthorized(self) -> None:
        """Mastodon's docs: "Unknown values should be treated as `unauthorized`"."""
        quote = post_of(quote_status(quoted_status(), "frobnicated")).quote
        assert quote is not None
        assert quote.state == "unauthorized"

    def test_a_quoted_status_in_the_quote_field_is_an_accepted_quote(self) -> None:
        """Pleroma, Akkoma and Fedibird put the quoted status itself in `quote`: read as accepted."""
        status = hoot()
        status["quote"] = quoted_status(text="Old style.")
        quote = post_of(status).quote
        assert quote is not None
        assert quote.state == "accepted"
        assert quote.quoted is not None
        assert quote.quoted.text == "Old style."

    def test_a_malformed_quoted_status_leaves_the_quoted_post_unknown(self) -> None:
        """A quoted status the relay cannot read does not lose the quoting post: it is unknown."""
        quoted = quoted_status()
        del quoted["account"]
        quote = post_of(quote_status(quoted)).quote
        assert quote == Quote(state="accepted", quoted=None, quoted_id=None)

    @pytest.mark.parametrize("bad", ["accepted", [1], {"quoted_status_id": "1"}, {"state": 3}])
    def test_a_malformed_quote_is_a_malformed_status(self, bad: object) -> None:
        """A `quote` that is no object, or has no state string, names the field in its error."""
        status = hoot()
        status["quote"] = bad
        with pytest.raises(MalformedStatus, match="quote"):
            post_of(status)

    @pytest.mark.parametrize(
        ("state", "progress"),
        [(None, 0), ("pending", 0), ("accepted", 1)] + [(s, 2) for s in QUOTE_STATES[2:]],
    )
    def test_progress_orders_the_states_mastodon_moves_through(
        self, state: str | None, progress: int
    ) -> None:
        """Pending, then accepted, then any later state: what makes a stale copy stale."""
        assert quote_progress(state) == progress


class TestStates:
    def test_accepted_is_held_by_default(self) -> None:
        """A clean accepted quote is held (`quotes = "hold"`), naming whose words and which."""
        result = verdict(quote_status(quoted_status(text="Therapy works.")))
        assert result.decision is HOLD
        assert result.reasons == (
            Reason("quotes", HOLD, "a quote of quoted@elsewhere.example: “Therapy works.”"),
        )

    @pytest.mark.parametrize(
        ("setting", "decision"), [("accept", ACCEPT), ("hold", HOLD), ("reject", REJECT)]
    )
    def test_accepted_follows_the_setting(self, setting: str, decision: Decision) -> None:
        """`rules.quotes` decides for a quote that passed every other rule."""
        result = verdict(quote_status(quoted_status()), rules(quotes=setting))
        assert result.decision is decision
        assert [r.rule for r in result.reasons] == ["quotes"]

    def test_accepted_quote_still_waits_in_review_mode(self) -> None:
        """With `quotes = "accept"` in review mode, the accepted quote is held like every post."""
        result = verdict(quote_status(quoted_status()), rules(mode="review", quotes="accept"))
        assert result.decision is HOLD
        assert [(r.rule, r.decision) for r in result.reasons] == [("quotes", ACCEPT), ("mode", HOLD)]

    @pytest.mark.parametrize(
        ("state", "meaning"),
        [
            ("pending", "has not approved it yet"),
            ("rejected", "refused it"),
            ("revoked", "withdrew their approval"),
            ("deleted", "quoted post was deleted"),
            ("unauthorized", "may not be shown"),
            ("blocked_account", "blocks the quoted author"),
            ("blocked_domain", "blocks the quoted author's domain"),
            ("muted_account", "mutes the quoted author"),
        ],
    )
    def test_every_state_but_accepted_is_rejected(self, state: str, meaning: str) -> None:
        """Pending, rejected, revoked, deleted, unauthorized (no quoted post shown), and the relay
        account's own block or mute of the quoted author (shown, but filtered): rejected, saying
        what the state means, even with `quotes = "accept"`."""
        result = verdict(quote_status(quoted_status(), state), rules(quotes="accept"))
        assert result.decision is REJECT
        assert refusals(result) == [("quotes.state", REJECT)]
        assert f"a quote in state {state}: " in result.reasons[0].detail
        assert meaning in result.reasons[0].detail

    def test_the_states_each_have_their_own_reason(self) -> None:
        """No two states give the same reason text."""
        details = {verdict(quote_status(quoted_status(), s)).reasons[0].detail for s in QUOTE_STATES}
        assert len(details) == len(QUOTE_STATES)  # "accepted" gives the `quotes` reason

    def test_shallow_quote_is_held_as_unknown(self) -> None:
        """A quote of a post known only by id is held: its author and text are unknown."""
        status = hoot()
        status["quote"] = {"state": "accepted", "quoted_status_id": "42"}
        result = verdict(status, rules(quotes="accept"))
        assert result.decision is HOLD
        assert refusals(result) == [("quotes.unknown", HOLD)]
        assert "(id 42)" in result.reasons[0].detail

    def test_missing_quoted_status_is_held_as_unknown(self) -> None:
        """An accepted quote whose `quoted_status` is null (filtered for the viewer) is held."""
        status = quote_status(None)
        result = verdict(status, rules(quotes="accept"))
        assert refusals(result) == [("quotes.unknown", HOLD)]

    def test_missing_quoted_status_of_a_refused_quote_is_only_rejected(self) -> None:
        """A revoked quote has no quoted status: one reason, the state's."""
        result = verdict(quote_status(None, "revoked"))
        assert refusals(result) == [("quotes.state", REJECT)]


class TestQuotedAuthor:
    def test_opted_out_author_is_refused(self) -> None:
        """A quote of someone who opted out of the relay is rejected, naming them."""
        result = verdict(quote_status(quoted_status()), quoted=History(opted_out=True))
        assert result.decision is REJECT
        assert ("quotes.consent.opt_out", REJECT) in refusals(result)
        detail = next(r.detail for r in result.reasons if r.rule == "quotes.consent.opt_out")
        assert detail == "the quoted post by quoted@elsewhere.example: the author opted out of boosts"

    def test_nobot_in_the_bio_is_refused(self) -> None:
        """A quoted author whose bio says #nobot is not spread by someone else's quote."""
        result = verdict(quote_status(quoted_status(note="<p>Psychologist #NoBot</p>")))
        assert refusals(result)[0] == ("quotes.consent.refuse_tags", REJECT)
        assert "#nobot" in result.reasons[0].detail

    def test_opt_in_mode_needs_the_quoted_author_opted_in(self) -> None:
        """In opt-in mode the quoted author's words spread only if they opted in too."""
        the_rules = rules(consent={"mode": "opt-in"})
        refused = screen(post_of(quote_status(quoted_status())), the_rules, History(opted_in=True), NOW)
        assert ("quotes.consent.mode", REJECT) in refusals(refused)
        allowed = History(opted_in=True, quoted=History(opted_in=True))
        assert ("quotes.consent.mode", REJECT) not in refusals(
            screen(post_of(quote_status(quoted_status())), the_rules, allowed, NOW)
        )

    def test_quoted_bot_follows_the_bots_rule(self) -> None:
        """A quoted bot account is treated as `rules.bots` says (rejected by default)."""
        assert ("quotes.bots", REJECT) in refusals(verdict(quote_status(quoted_status(bot=True))))
        accepted = verdict(quote_status(quoted_status(bot=True)), rules(bots="accept"))
        assert "quotes.bots" not in [r.rule for r in accepted.reasons]

    def test_account_blocked_in_config_or_by_a_moderator(self) -> None:
        """The quoted account blocked in relay.toml or by a moderator: rejected either way."""
        by_config = verdict(
            quote_status(quoted_status()), rules(blocks={"accounts": ["quoted@elsewhere.example"]})
        )
        assert ("quotes.blocks.accounts", REJECT) in refusals(by_config)
        by_moderator = verdict(quote_status(quoted_status()), quoted=History(account_blocked="troll"))
        assert ("quotes.blocks.accounts", REJECT) in refusals(by_moderator)
        assert "blocked by a moderator: troll" in by_moderator.reasons[0].detail

    def test_domain_blocked_in_config_or_by_a_moderator(self) -> None:
        """The quoted author's domain (or a parent) blocked: rejected."""
        quoted = quoted_status(domain="sub.elsewhere.example")
        by_config = verdict(quote_status(quoted), rules(blocks={"domains": ["elsewhere.example"]}))
        assert ("quotes.blocks.domains", REJECT) in refusals(by_config)
        by_moderator = verdict(quote_status(quoted), quoted=History(domain_blocked="harassment"))
        assert ("quotes.blocks.domains", REJECT) in refusals(by_moderator)

    def test_the_quoting_authors_own_history_is_not_the_quoted_authors(self) -> None:
        """The quoting author's opt-out refuses their own post, not as a quote rule."""
        result = screen(post_of(quote_status(quoted_status())), rules(), History(opted_out=True), NOW)
        assert ("consent.opt_out", REJECT) in refusals(result)
        assert not [rule for rule, _ in refusals(result) if rule.startswith("quotes.")]

    def test_quoting_a_private_post_is_refused(self) -> None:
        """A public quote of a followers-only post (allowed for one's own) would leak it: rejected."""
        quoted = quoted_status()
        quoted["visibility"] = "private"
        assert ("quotes.visibility", REJECT) in refusals(verdict(quote_status(quoted)))


class TestQuotedText:
    def test_reject_keyword_in_the_quoted_text(self) -> None:
        """The quoted text goes through the keyword rules: a reject word rejects the quote."""
        the_rules = rules(keywords={"reject": ["pathological liar"]})
        result = verdict(quote_status(quoted_status(text="She is a Pathological Liar.")), the_rules)
        assert ("quotes.keywords.reject", REJECT) in refusals(result)
        detail = next(r.detail for r in result.reasons if r.rule == "quotes.keywords.reject")
        assert detail == "the quoted post by quoted@elsewhere.example: matched 'pathological liar'"

    def test_hold_regex_in_the_quoted_text(self) -> None:
        """Regex rules apply to the quoted text (and its content warning) too."""
        quoted = quoted_status(text="fine")
        quoted["spoiler_text"] = "call-out thread"
        result = verdict(quote_status(quoted), rules(quotes="accept", keywords={"hold_regex": ["call-?out"]}))
        assert refusals(result) == [("quotes.keywords.hold_regex", HOLD)]

    def test_the_excerpt_is_one_line_and_cut_at_a_word(self) -> None:
        """The `quotes` reason keeps the start of the quoted text on one line, cut at a word."""
        text = "line one\u0007 and " + " ".join(["word"] * 60)
        reason = verdict(quote_status(quoted_status(text=text))).reasons[-1]
        excerpt = reason.detail.split("“", 1)[1].rstrip("”")
        assert excerpt.startswith("line one and word")
        assert excerpt.endswith("word…")
        assert len(excerpt) <= EXCERPT_CHARS
        assert "\u0007" not in excerpt
        assert "\n" not in excerpt

    def test_trusted_author_skips_the_quote_hold_but_not_a_refusal(self) -> None:
        """A trusted author's clean quote is accepted; a quote of an opted-out author still is not."""
        trusted = screen(post_of(quote_status(quoted_status())), rules(), History(trusted=True), NOW)
        assert trusted.decision is ACCEPT
        refused = screen(
            post_of(quote_status(quoted_status())),
            rules(),
            History(trusted=True, quoted=History(opted_out=True)),
            NOW,
        )
        assert refused.decision is REJECT

    def test_a_post_that_is_no_quote_gets_no_quote_reason(self) -> None:
        """Screening of ordinary posts is unchanged."""
        assert verdict(hoot()) == Verdict(ACCEPT, ())

    def test_the_same_comment_on_two_quoted_posts_is_not_the_same_text(self) -> None:
        """A quote's fingerprint counts what it quotes: "Worth reading" twice over two posts differs,
        over the same post it is the same."""
        first = post_of(quote_status(quoted_status(text="one")))
        other = quoted_status(text="two")
        other["uri"] += "0"
        other["id"] = "2"
        second = post_of(quote_status(other))
        assert first.text_fingerprint != second.text_fingerprint
        assert first.text_fingerprint == post_of(quote_status(quoted_status(text="one"))).text_fingerprint
        assert post_of(hoot()).text_fingerprint != first.text_fingerprint

    def test_dataclass_replace_keeps_the_quote(self) -> None:
        """A Post changed with `dataclasses.replace` keeps its quote (edits and boosts do this)."""
        post = post_of(quote_status(quoted_status()))
        assert dataclasses.replace(post, text="x").quote == post.quote
