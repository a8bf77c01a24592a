"""The pure moderation filter: every rule alone, in combination, and the decision they add up to."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import DATA
from statusgen import generate, hoot, real_statuses, status

from relay.config.rules import parse_rules
from relay.core.mastodon_json import Author
from relay.core.post import Media, Post
from relay.core.rules import Rules
from relay.core.screen import (
    Decision,
    History,
    Reason,
    Verdict,
    _any_word_pattern,
    _word_pattern,
    covering_domains,
    domain_matches,
    screen,
)

NOW = datetime(2026, 8, 2, 12, 0, tzinfo=UTC)
ACCEPT, HOLD, REJECT = Decision.ACCEPT, Decision.HOLD, Decision.REJECT


def rules(mode: str = "open", **table: Any) -> Rules:
    """Rules watching #hoot (the real fixture's tag) with `table` as the [rules] table."""
    return parse_rules(
        table, hashtags=["hoot"], mode=mode, self_acct=None, base_dir=Path("."), source="relay.toml"
    )


def hoot_post(**changes: Any) -> Post:
    """The real public #hoot status (author mastodonpy_test_2@localhost:3000), with `changes`."""
    return dataclasses.replace(Post.from_status(hoot(), source="localhost:3000"), **changes)


def with_author(post: Post, **changes: Any) -> Post:
    """`post` with its author's fields changed."""
    return dataclasses.replace(post, author=dataclasses.replace(post.author, **changes))


def verdict(post: Post, the_rules: Rules | None = None, history: History | None = None) -> Verdict:
    """Screen `post` at NOW, with open-mode default rules and an empty history unless given."""
    return screen(post, the_rules or rules(), history or History(), NOW)


def rule_names(result: Verdict) -> list[str]:
    """The rules named by a verdict's reasons, in order."""
    return [r.rule for r in result.reasons]


class TestDecision:
    def test_clean_post_is_accepted_in_open_mode(self) -> None:
        """The real #hoot post passes every default rule and is accepted without reasons."""
        assert verdict(hoot_post()) == Verdict(ACCEPT, ())

    def test_review_mode_holds_what_passes(self) -> None:
        """In review mode a post that passed the filter is held for a moderator."""
        result = verdict(hoot_post(), rules(mode="review"))
        assert result.decision is HOLD
        assert rule_names(result) == ["mode"]

    def test_review_mode_does_not_add_to_a_rejection(self) -> None:
        """Review mode adds nothing to a post that a rule already rejected."""
        result = verdict(hoot_post(visibility="direct"), rules(mode="review"))
        assert result.decision is REJECT
        assert rule_names(result) == ["visibility"]

    def test_trusted_author_skips_review(self) -> None:
        """A trusted author (config or moderator) is accepted in review mode, with the reason said."""
        by_config = rules(mode="review", blocks={"trusted": ["mastodonpy_test_2@localhost:3000"]})
        for result in (
            verdict(hoot_post(), by_config),
            verdict(hoot_post(), rules("review"), History(trusted=True)),
        ):
            assert result.decision is ACCEPT
            assert rule_names(result) == ["trusted"]

    def test_every_reason_is_kept_and_most_severe_wins(self) -> None:
        """A post breaking several rules gets every reason; reject beats hold."""
        post = with_author(
            hoot_post(visibility="unlisted", spoiler_text="spoiler", in_reply_to_id="1", links=9), bot=True
        )
        result = verdict(post, rules(content_warning="hold"))
        assert rule_names(result) == ["visibility", "replies", "bots", "limits.max_links", "content_warning"]
        assert result.decision is REJECT
        assert [r.decision for r in result.reasons] == [REJECT, REJECT, REJECT, HOLD, HOLD]

    def test_holds_only_give_hold(self) -> None:
        """Hold reasons without a reject give a hold."""
        result = verdict(hoot_post(links=4, mentions=6))
        assert result.decision is HOLD
        assert rule_names(result) == ["limits.max_mentions", "limits.max_links"]

    def test_trusted_bypasses_holds_but_not_rejects(self) -> None:
        """Trust turns hold reasons into bypassed accepts, and never overrides a reject."""
        trusted = History(trusted=True)
        held = verdict(hoot_post(links=9), rules(), trusted)
        assert held.decision is ACCEPT
        assert held.reasons[0] == Reason(
            "limits.max_links", ACCEPT, "9 links, more than 3 (bypassed: trusted author)"
        )
        rejected = verdict(hoot_post(links=9), rules(), dataclasses.replace(trusted, account_blocked="spam"))
        assert rejected.decision is REJECT
        assert "trusted" not in rule_names(rejected)

    def test_screen_is_deterministic(self) -> None:
        """The same post, rules, history and clock give the same verdict."""
        post = hoot_post(links=9)
        assert verdict(post) == verdict(post)


class TestVisibilityHashtagSelf:
    def test_unlisted_is_opt_in(self) -> None:
        """Unlisted posts are rejected by default and accepted when configured."""
        assert rule_names(verdict(hoot_post(visibility="unlisted"))) == ["visibility"]
        assert (
            verdict(hoot_post(visibility="unlisted"), rules(visibility=["public", "unlisted"])).decision
            is ACCEPT
        )

    @pytest.mark.parametrize("visibility", ["private", "direct"])
    def test_private_and_direct_never(self, visibility: str) -> None:
        """Private and direct posts are rejected whatever the configuration."""
        result = verdict(hoot_post(visibility=visibility), rules(visibility=["public", "unlisted"]))
        assert result.reasons == (Reason("visibility", REJECT, f"{visibility} posts are never boosted"),)

    def test_real_direct_status_is_rejected(self) -> None:
        """The real direct status from the cassettes is rejected for visibility (and has no tag)."""
        post = Post.from_status(status("status_post_direct.yaml", 0), source="localhost:3000")
        assert rule_names(verdict(post)) == ["visibility", "hashtags"]

    def test_watched_hashtag_must_be_on_the_post(self) -> None:
        """Without a watched tag in the status's tags the post is rejected, even if the HTML shows it."""
        data = hoot()
        data["tags"] = [{"name": "other", "url": "x"}]
        result = verdict(Post.from_status(data, source="localhost:3000"))
        assert result.reasons == (
            Reason("hashtags", REJECT, "no watched hashtag (#hoot) on the post; it has #other"),
        )

    def test_watched_hashtag_matches_normalised(self) -> None:
        """A watched tag written differently (case, width) still matches the post's tag."""
        the_rules = parse_rules(
            {}, hashtags=["ＨＯＯＴ"], mode="open", self_acct=None, base_dir=Path("."), source="relay.toml"
        )
        assert verdict(hoot_post(), the_rules).decision is ACCEPT

    def test_own_posts_are_not_boosted(self) -> None:
        """The booster's own post is rejected."""
        own = parse_rules(
            {},
            hashtags=["hoot"],
            mode="open",
            self_acct="mastodonpy_test_2@localhost:3000",
            base_dir=Path("."),
            source="relay.toml",
        )
        assert rule_names(verdict(hoot_post(), own)) == ["self_acct"]

    def test_boost_is_not_reboosted(self) -> None:
        """A post that arrived as a boost is rejected, naming the booster."""
        post = hoot_post(boosted_by=Author(acct="booster@x.example"))
        assert verdict(post).reasons == (
            Reason("boost", REJECT, "arrived as a boost by booster@x.example; boosts are not re-boosted"),
        )


class TestReplies:
    def test_real_reply_skipped_by_default(self) -> None:
        """The real reply from the cassettes is rejected as a reply by default."""
        data = status("status_reply.yaml", 2)
        data["tags"] = [{"name": "hoot", "url": "x"}]
        result = verdict(Post.from_status(data, source="localhost:3000"))
        assert result.reasons == (Reason("replies", REJECT, "a reply (in reply to 117020583245459824)"),)

    def test_allow(self) -> None:
        """replies = "allow" lets replies through."""
        assert verdict(hoot_post(in_reply_to_id="5"), rules(replies="allow")).decision is ACCEPT

    @pytest.mark.parametrize(
        ("anchor", "decision"),
        [
            ("5", ACCEPT),
            ("http://localhost:3000/@ana/5", ACCEPT),
            ("https://elsewhere.example/@ana/5", REJECT),
            ("6", REJECT),
        ],
    )
    def test_anchors(self, anchor: str, decision: Decision) -> None:
        """With anchors, only replies to an anchor (its id, or its URL on the source instance) pass."""
        the_rules = rules(replies="anchors", reply_anchors=[anchor])
        assert verdict(hoot_post(in_reply_to_id="5"), the_rules).decision is decision


class TestConsent:
    @pytest.mark.parametrize("tag", ["nobot", "nobots", "noboost", "noindex"])
    def test_refuse_tags_in_profile(self, tag: str) -> None:
        """Each default refusal hashtag in the bio or fields rejects the post."""
        post = with_author(hoot_post(), profile_tags=frozenset({tag, "therapist"}))
        assert verdict(post).reasons == (
            Reason("consent.refuse_tags", REJECT, f"the author's profile says #{tag}"),
        )

    def test_refuse_tags_from_real_bio_html(self) -> None:
        """A #NoBot hashtag link in a real account's bio is found and respected."""
        data = hoot()
        data["account"]["note"] = (
            '<p>hi <a href="/tags/nobot" class="mention hashtag" rel="tag">#<span>NoBot</span></a></p>'
        )
        assert rule_names(verdict(Post.from_status(data, source="localhost:3000"))) == ["consent.refuse_tags"]

    def test_custom_refuse_tags(self) -> None:
        """The refusal list is configurable."""
        post = with_author(hoot_post(), profile_tags=frozenset({"nobot"}))
        assert verdict(post, rules(consent={"refuse_tags": ["nocurate"]})).decision is ACCEPT

    def test_opt_out(self) -> None:
        """An author who opted out is rejected."""
        assert rule_names(verdict(hoot_post(), history=History(opted_out=True))) == ["consent.opt_out"]

    def test_opt_in_mode(self) -> None:
        """In opt-in mode only opted-in or trusted authors pass."""
        the_rules = rules(consent={"mode": "opt-in"})
        assert rule_names(verdict(hoot_post(), the_rules)) == ["consent.mode"]
        assert verdict(hoot_post(), the_rules, History(opted_in=True)).decision is ACCEPT
        assert verdict(hoot_post(), the_rules, History(trusted=True)).decision is ACCEPT

    def test_indexable_and_noindex_off_by_default(self) -> None:
        """indexable = false and noindex = true do not stop a post unless configured."""
        post = with_author(hoot_post(), indexable=False, noindex=True)
        assert verdict(post).decision is ACCEPT
        strict = rules(consent={"respect_indexable": True, "respect_noindex": True})
        assert rule_names(verdict(post, strict)) == ["consent.respect_indexable", "consent.respect_noindex"]

    def test_unknown_indexable_is_not_a_refusal(self) -> None:
        """A server that does not say whether an account is indexable is not taken as a no."""
        post = with_author(hoot_post(), indexable=None)
        assert verdict(post, rules(consent={"respect_indexable": True})).decision is ACCEPT


class TestAccounts:
    def test_bots_rejected_by_default_and_configurable(self) -> None:
        """Bots are rejected by default; the action is configurable."""
        post = with_author(hoot_post(), bot=True)
        assert verdict(post).reasons == (Reason("bots", REJECT, "a bot account"),)
        assert verdict(post, rules(bots="accept")).decision is ACCEPT
        assert verdict(post, rules(bots="hold")).decision is HOLD

    def test_groups_accepted_by_default_and_configurable(self) -> None:
        """Group accounts pass by default and can be held or rejected."""
        post = with_author(hoot_post(), group=True)
        assert verdict(post).decision is ACCEPT
        assert verdict(post, rules(groups="hold")).reasons == (Reason("groups", HOLD, "a group account"),)

    def test_blocked_account_by_config_and_moderator(self) -> None:
        """A blocked account is rejected, from config and from a moderator, both reasons kept."""
        the_rules = rules(blocks={"accounts": ["MastodonPy_Test_2@localhost:3000"]})
        result = verdict(hoot_post(), the_rules, History(account_blocked="spam wave"))
        assert rule_names(result) == ["blocks.accounts", "blocks.accounts"]
        assert "blocked by a moderator: spam wave" in result.reasons[1].detail

    @pytest.mark.parametrize(
        ("domain", "blocked"),
        [("spam.example", True), ("a.b.spam.example", True), ("notspam.example", False), ("example", False)],
    )
    def test_domain_blocks_cover_subdomains(self, domain: str, blocked: bool) -> None:
        """A blocked domain blocks its subdomains, and nothing that merely ends with the same letters."""
        post = with_author(hoot_post(), acct=f"ana@{domain}")
        result = verdict(post, rules(blocks={"domains": ["spam.example"]}))
        assert (result.decision is REJECT) is blocked

    def test_domain_blocked_by_moderator(self) -> None:
        """A domain blocked by a moderator rejects."""
        assert rule_names(verdict(hoot_post(), history=History(domain_blocked="abuse"))) == ["blocks.domains"]

    def test_limited_domain_is_held(self) -> None:
        """A domain silenced in an imported Mastodon block list holds the post."""
        post = with_author(hoot_post(), acct="ana@sub.loud.example")
        the_rules = rules(blocks={"domain_block_file": str(DATA / "rules/domain_blocks.csv")})
        assert rule_names(verdict(post, the_rules)) == ["blocks.domain_block_file"]
        assert verdict(with_author(post, acct="x@spam.example"), the_rules).decision is REJECT

    def test_domain_matches_with_port(self) -> None:
        """A host with a port matches a block of the bare host or the host with that port."""
        assert domain_matches("localhost:3000", frozenset({"localhost"})) == "localhost"
        assert domain_matches("localhost:3000", frozenset({"localhost:3000"})) == "localhost:3000"

    def test_covering_domains_are_every_text_the_domain_ends_in_after_a_dot(self) -> None:
        """The domain, then each parent, longest first; odd dots are taken as they stand."""
        assert covering_domains("a.b.example") == ["a.b.example", "b.example", "example"]
        assert covering_domains("solo") == ["solo"]
        for odd in (".a.b", "a.b.", "a..b", "."):
            expected = [odd] + [odd[i + 1 :] for i, ch in enumerate(odd) if ch == "."]
            assert covering_domains(odd) == expected, odd


class TestKeywords:
    @pytest.mark.parametrize(
        ("words", "text", "hit"),
        [
            (["crypto"], "Buy CRYPTO now", True),
            (["crypto"], "cryptography class", False),
            (["cafe"], "Meet at the Café", True),
            (["café"], "meet at the CAFE", True),
            (["free money"], "get Free \n money!", True),
            (["free money"], "get freemoney", False),
        ],
    )
    def test_whole_word_case_and_accent_insensitive(self, words: list[str], text: str, hit: bool) -> None:
        """Words match whole words, whatever the case, accents and spacing."""
        result = verdict(hoot_post(text=text), rules(keywords={"reject": words}))
        assert (result.decision is REJECT) is hit

    def test_substring_mode(self) -> None:
        """match = "substring" also finds words inside words."""
        the_rules = rules(keywords={"hold": ["crypto"], "match": "substring"})
        assert verdict(hoot_post(text="cryptography"), the_rules).reasons == (
            Reason("keywords.hold", HOLD, "matched 'crypto'"),
        )

    def test_content_warning_text_is_matched(self) -> None:
        """Keywords are also looked for in the content warning."""
        post = hoot_post(spoiler_text="Crypto giveaway")
        assert verdict(post, rules(keywords={"reject": ["giveaway"]})).decision is REJECT

    def test_regexes_and_both_lists(self) -> None:
        """Regexes match the text (folded or not); reject and hold hits are all reported."""
        the_rules = rules(
            keywords={"hold": ["therapy"], "reject_regex": [r"\d{3,}% off"], "hold_regex": ["^café"]}
        )
        result = verdict(hoot_post(text="Café therapy: 100% off"), the_rules)
        assert rule_names(result) == ["keywords.hold", "keywords.reject_regex", "keywords.hold_regex"]
        assert result.decision is REJECT

    @pytest.mark.parametrize("match", ["word", "substring"])
    def test_one_scan_for_all_words_on_recorded_posts(self, match: str) -> None:
        """On every recorded and generated post, the word-list pattern hits where a word's own does."""
        words = ("therapy", "group", "cafe", "free money", "cbt", "hoot", "psy", "a")
        for data in real_statuses() + generate(300):
            text = " ".join(Post.from_status(data, source="localhost:3000").folded_text.split())
            for some in (words, words[:1], words[2:5]):
                hit = any(_word_pattern(word, match).search(text) for word in some)
                assert (_any_word_pattern(some, match).search(text) is not None) is hit, (text, some)

    @settings(max_examples=500)
    @given(
        st.lists(st.text(alphabet="ab .é*(", min_size=1, max_size=4), min_size=1, max_size=4).map(tuple),
        st.text(alphabet="ab .é*(x_-", max_size=16),
        st.sampled_from(("word", "substring")),
    )
    def test_one_scan_for_all_words(self, words: tuple[str, ...], text: str, match: str) -> None:
        """The pattern for a whole word list finds a hit exactly when one word's own pattern does."""
        hit = any(_word_pattern(word, match).search(text) for word in words)
        assert (_any_word_pattern(words, match).search(text) is not None) is hit


class TestLimits:
    @pytest.mark.parametrize(
        ("changes", "rule"),
        [
            ({"tags": frozenset({"hoot", *(f"t{i}" for i in range(10))})}, "limits.max_hashtags"),
            ({"mentions": 6}, "limits.max_mentions"),
            ({"links": 4}, "limits.max_links"),
        ],
    )
    def test_shape_limits_hold(self, changes: dict[str, Any], rule: str) -> None:
        """One over a shape limit holds the post; at the limit it passes; 0 turns the limit off."""
        result = verdict(hoot_post(**changes))
        assert rule_names(result) == [rule]
        assert result.decision is HOLD
        name = rule.split(".")[1]
        assert verdict(hoot_post(**changes), rules(limits={name: 0})).decision is ACCEPT
        assert verdict(hoot_post(**changes), rules(limits={name: 11})).decision is ACCEPT

    def test_account_age_off_by_default(self) -> None:
        """A brand-new account passes by default and is held when a minimum age is set."""
        post = with_author(hoot_post(), created_at=NOW - timedelta(days=2))
        assert verdict(post).decision is ACCEPT
        result = verdict(post, rules(limits={"min_account_age_days": 7}))
        assert result.reasons == (
            Reason("limits.min_account_age_days", HOLD, "account is 2 days old, less than 7"),
        )

    def test_statuses_count_off_by_default(self) -> None:
        """An account with few posts passes by default and is held when a minimum is set."""
        post = hoot_post()  # the real account has 3 statuses
        assert verdict(post).decision is ACCEPT
        assert rule_names(verdict(post, rules(limits={"min_statuses": 4}))) == ["limits.min_statuses"]

    def test_same_text_again(self) -> None:
        """The same text from the same author again is rejected by default, configurable."""
        seen = History(same_text_seen=True)
        assert rule_names(verdict(hoot_post(), history=seen)) == ["limits.same_text"]
        assert verdict(hoot_post(), rules(limits={"same_text": "hold"}), seen).decision is HOLD
        assert verdict(hoot_post(), rules(limits={"same_text": "accept"}), seen).decision is ACCEPT

    def test_boosts_per_author(self) -> None:
        """The sixth boost of one author in 24 hours is rejected; the fifth is not."""
        assert verdict(hoot_post(), history=History(boosts_last_24h=4)).decision is ACCEPT
        result = verdict(hoot_post(), history=History(boosts_last_24h=5))
        assert rule_names(result) == ["limits.max_boosts_per_author_24h"]
        assert result.decision is REJECT


class TestContent:
    @pytest.mark.parametrize("action", ["accept", "hold", "reject"])
    def test_content_warning_and_sensitive(self, action: str) -> None:
        """A content warning and the sensitive flag each follow their configured action."""
        post = hoot_post(spoiler_text="grief", sensitive=True)
        result = verdict(post, rules(content_warning=action, sensitive=action))
        assert result.decision is Decision(action)
        assert rule_names(result) == ([] if action == "accept" else ["content_warning", "sensitive"])

    def test_media_without_alt(self) -> None:
        """Media without alt text passes by default and is held when configured; described media passes."""
        bare = hoot_post(media=(Media("image", "u", ""), Media("image", "v", "a chair")))
        assert verdict(bare).decision is ACCEPT
        assert verdict(bare, rules(media_without_alt="hold")).reasons == (
            Reason("media_without_alt", HOLD, "1 attachment(s) without alt text"),
        )
        described = hoot_post(media=(Media("image", "v", "a chair"),))
        assert verdict(described, rules(media_without_alt="hold")).decision is ACCEPT

    @pytest.mark.parametrize(
        ("language", "decision"), [("en", ACCEPT), ("pt-BR", ACCEPT), ("ja", REJECT), (None, ACCEPT)]
    )
    def test_languages(self, language: str | None, decision: Decision) -> None:
        """With an allow list, other languages are rejected; posts without a language pass."""
        assert verdict(hoot_post(language=language), rules(languages=["en", "pt"])).decision is decision

    def test_all_languages_by_default(self) -> None:
        """Without an allow list every language passes (the real post is Japanese)."""
        assert verdict(hoot_post(language="ja")).decision is ACCEPT

    def test_incomplete_post_is_held(self) -> None:
        """A post known only from RSS is held until the API tells the rest."""
        result = verdict(hoot_post(complete=False, tags_from="rss"))
        assert rule_names(result) == ["complete"]
        assert result.decision is HOLD
