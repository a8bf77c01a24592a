"""The DM texts of the moderation channel (relay.moderation.notices): holds, digests, replies."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from statusgen import quote_status, quoted_status

from relay.config.rules import default_rules
from relay.core.history import History
from relay.core.post import Post
from relay.core.screen import screen
from relay.core.verdict import Decision, Reason
from relay.moderation.notices import (
    URL_CHARS,
    HeldPost,
    announcement,
    cut,
    digest_notice,
    hold_notice,
    pack_lines,
    quiet,
    reason_note,
    replies,
    status_length,
)

NOW = datetime(2026, 8, 2, 12, 0, tzinfo=UTC)
RULES = default_rules(["hoot"])
URL = "https://therapists.example/@alice/111222333444555666"
WORDS = ("I", "am", "a", "counsellor", "in", "Leeds", "and", "I", "am", "new", "here,")
WORDS += ("hello", "to", "everyone", "in", "the", "community")


REASONS = (
    Reason("limits.max_links", Decision.HOLD, "5 links (at most 3)"),
    Reason("mode", Decision.HOLD, "review mode: a moderator approves every post"),
)


def held(
    short_id: str = "h42",
    text: str = "Hello #TherapistsConnect, I am new here.",
    *,
    author: str | None = "alice@therapists.example",
    url: str | None = URL,
    reasons: tuple[Reason | str, ...] = REASONS,
) -> HeldPost:
    """A held post as the notices take it."""
    return HeldPost(short_id, author=author, url=url, text=text, reasons=reasons)


class TestHelpers:
    def test_status_length_counts_links_as_at_least_23(self) -> None:
        """A short link counts as Mastodon's 23 characters; a long one as its length."""
        assert status_length("see https://a.co/x") == 4 + URL_CHARS
        assert status_length(URL) == len(URL)

    def test_cut_at_a_word_boundary(self) -> None:
        """Cutting stops at a space and adds '…' within the limit; short text is left alone."""
        text = " ".join(WORDS)
        out = cut(text, 30)
        assert out.endswith("…")
        assert len(out) <= 30
        assert text.startswith(out[:-1])
        assert out[:-1].split()[-1] in WORDS
        assert cut("short  text\n", 30) == "short text"

    def test_cut_a_word_without_spaces(self) -> None:
        """A single long word is cut hard rather than dropped."""
        assert cut("x" * 100, 10) == "x" * 9 + "…"

    def test_quiet_defuses_mentions_only(self) -> None:
        """Mentions get a zero-width space after '@'; handles inside words and URLs are untouched."""
        out = quiet("hi @bob@x.example and alice@y.example at https://y.example/@alice")
        assert "@\u200bbob" in out
        assert "alice@y.example" in out
        assert "https://y.example/@alice" in out

    def test_reason_note_is_defused_and_empty_without_a_reason(self) -> None:
        """A moderator's reason follows a reply in parentheses, its mentions defused; no reason, no note."""
        assert reason_note("spam from @bob@x.example") == " (spam from @\u200bbob@x.example)"
        assert reason_note(None) == ""
        assert reason_note("") == ""

    def test_pack_lines_keeps_lines_whole(self) -> None:
        """Lines are packed into messages under the budget, never split across two."""
        lines = [f"line {i} " + "word " * 10 for i in range(40)]
        messages = pack_lines(lines, max_chars=200, prefix="@mod ")
        assert all(status_length("@mod " + m) <= 200 for m in messages)
        assert len(messages) > 1
        assert [line for m in messages for line in m.split("\n")] == lines

    def test_pack_lines_cuts_an_overlong_line(self) -> None:
        """A line longer than a whole message is cut to fit rather than lost."""
        (message,) = pack_lines(["word " * 200], max_chars=100)
        assert status_length(message) <= 100
        assert message.endswith("…")


class TestHoldNotice:
    def test_everything_a_moderator_needs(self) -> None:
        """The notice names the id, author, link, text, every reason and how to answer."""
        notice = hold_notice(held())
        assert "h42" in notice
        assert "alice@therapists.example" in notice
        assert URL in notice
        assert "Hello #TherapistsConnect, I am new here." in notice
        assert "limits.max_links: 5 links (at most 3)" in notice
        assert "mode: review mode" in notice
        assert "Reply `approve` or `reject [reason]`, or send `approve h42`" in notice
        assert status_length(notice) <= 500

    def test_long_text_is_cut_near_200_at_a_word(self) -> None:
        """A long post shows about its first 200 characters, ending at a word with '…'."""
        text = " ".join(WORDS * 10)
        notice = hold_notice(held(text=text))
        (quoted,) = re.findall(r"“(.*)”", notice)
        assert quoted.endswith("…")
        assert 150 <= len(quoted) <= 200
        assert text.startswith(quoted[:-1])
        assert text[len(quoted) - 1] == " "

    def test_mentions_in_the_post_do_not_become_recipients(self) -> None:
        """A mention in the quoted text or author is defused so the DM reaches only moderators."""
        notice = hold_notice(held(text="thanks @bob@elsewhere.example!", author="@alice@therapists.example"))
        assert not re.search(r"(?<![\w/])@\w", notice)

    def test_a_held_quote_says_whose_words_and_their_start_defused(self) -> None:
        """A quote's notice says it is a quote, of whom, and the start of the quoted text, with a
        mention in it defused (the reason screening gives a quote is shown as it is stored)."""
        quote = Post.from_status(
            quote_status(quoted_status(text="ask @carol@elsewhere.example about it")), source="localhost:3000"
        )
        reasons = screen(quote, RULES, History(), NOW).reasons
        notice = hold_notice(held(reasons=reasons))
        assert (
            "quotes: a quote of quoted@elsewhere.example: “ask @\u200bcarol@elsewhere.example about it”"
            in notice
        )
        assert not re.search(r"(?<![\w/])@\w", notice)

    def test_prefix_is_counted(self) -> None:
        """The mention prefix the caller adds counts against max_chars."""
        prefix = "@mod1@therapists.example @mod2@therapists.example "
        post = held(text=" ".join(WORDS * 10))
        notice = hold_notice(post, max_chars=300, prefix=prefix)
        assert status_length(prefix + notice) <= 300
        assert "h42" in notice

    def test_shrinks_excerpt_before_reasons(self) -> None:
        """When space runs short the excerpt goes before any reason detail."""
        post = held(text=" ".join(WORDS * 10))
        notice = hold_notice(post, max_chars=330)
        assert "limits.max_links: 5 links (at most 3)" in notice
        assert "mode: review mode: a moderator approves every post" in notice
        assert all(len(quoted) < 200 for quoted in re.findall(r"“(.*)”", notice))

    def test_tiny_budget_is_refused(self) -> None:
        """A max_chars that cannot hold even the short id and a hint raises ValueError."""
        with pytest.raises(ValueError, match="no room"):
            hold_notice(held(), max_chars=20)

    def test_missing_author_and_link(self) -> None:
        """A post without author or link (an RSS item) still gets a notice."""
        notice = hold_notice(held(author=None, url=None, reasons=("held by hand",)))
        assert "h42" in notice
        assert "held by hand" in notice

    @given(
        text=st.text(max_size=3000),
        reasons=st.lists(st.text(max_size=300), max_size=12),
        max_chars=st.integers(120, 1000),
        prefix=st.sampled_from(["", "@mod ", "@m1@a.example @m2@b.example @m3@c.example "]),
        number=st.integers(0, 10**12),
    )
    def test_always_fits_and_keeps_the_id(
        self, text: str, reasons: list[str], max_chars: int, prefix: str, number: int
    ) -> None:
        """For any text, reasons and budget, the notice fits and contains the whole short id."""
        sid = f"h{number}"
        notice = hold_notice(held(sid, text=text, reasons=tuple(reasons)), max_chars=max_chars, prefix=prefix)
        assert status_length(prefix + notice) <= max_chars
        assert re.search(rf"\b{sid}\b", notice)


class TestDigest:
    def test_few_holds_fit_one_message(self) -> None:
        """Three holds make one DM naming each id, author, link and rule."""
        (message,) = digest_notice([held("h1"), held("h2"), held("h3")])
        assert message.startswith("3 posts wait for review:")
        for sid in ("h1", "h2", "h3"):
            assert re.search(rf"^{sid} alice@therapists\.example {re.escape(URL)}$", message, re.M)
        assert "limits.max_links, mode" in message
        assert "approve ID…" in message
        assert status_length(message) <= 500

    def test_many_holds_split_into_numbered_messages(self) -> None:
        """Forty holds become several numbered DMs, each fitting, with every id exactly once."""
        items = [held(f"h{i}", text=" ".join(WORDS)) for i in range(100, 140)]
        messages = digest_notice(items, prefix="@mod ")
        assert len(messages) > 1
        for i, message in enumerate(messages, 1):
            assert message.startswith(f"40 posts wait for review ({i}/{len(messages)}):")
            assert status_length("@mod " + message) <= 500
        ids = re.findall(r"^h\d+", "\n".join(messages), re.M)
        assert "limits.max_links, mode" in messages[-1]
        assert ids == [f"h{i}" for i in range(100, 140)]

    def test_prefers_fewer_messages_over_excerpts(self) -> None:
        """Excerpts are dropped when that saves a message."""
        items = [held(f"h{i}", text=" ".join(WORDS)) for i in range(3)]
        (message,) = digest_notice(items)
        assert "“" not in message
        assert all(f"h{i} " in message for i in range(3))

    def test_no_holds_no_messages(self) -> None:
        """An empty digest sends nothing."""
        assert digest_notice([]) == []

    def test_one_hold_is_singular(self) -> None:
        """One hold reads '1 post waits'."""
        assert digest_notice([held()])[0].startswith("1 post waits for review:")

    def test_tiny_budget_is_refused(self) -> None:
        """A max_chars too small for header, id and footer raises ValueError."""
        with pytest.raises(ValueError, match="no room"):
            digest_notice([held()], max_chars=60)

    @given(
        posts=st.lists(
            st.tuples(
                st.integers(0, 10**9), st.text(max_size=400), st.lists(st.text(max_size=80), max_size=6)
            ),
            min_size=1,
            max_size=30,
        ),
        max_chars=st.integers(200, 1000),
        prefix=st.sampled_from(["", "@mod ", "@m1@a.example @m2@b.example "]),
    )
    def test_always_fits_and_lists_every_id_whole(
        self, posts: list[tuple[int, str, list[str]]], max_chars: int, prefix: str
    ) -> None:
        """For any holds and budget, every message fits and every short id appears whole, in order."""
        items = [held(f"h{n}", text=text, reasons=tuple(reasons)) for n, text, reasons in posts]
        messages = digest_notice(items, max_chars=max_chars, prefix=prefix)
        assert all(status_length(prefix + m) <= max_chars for m in messages)
        listed = re.findall(r"^h\d+(?=\s|$)", "\n".join(messages), re.M)
        assert listed == [item.short_id for item in items]


class TestAddressing:
    def test_announcements_fit_and_mention_every_moderator(self) -> None:
        """One post: a hold notice; several: a digest; each DM mentions the moderators and fits 500."""
        mods = ("mira@home.example", "remi@remote.example")
        reasons = (Reason("links", Decision.HOLD, "4 links"),)
        one = announcement(
            [HeldPost("h7", "bob@x.example", "https://x.example/@bob/7", "Hi " * 200, reasons)], mods
        )
        assert len(one) == 1
        assert one[0].startswith("@mira@home.example @remi@remote.example Held for review: h7")
        assert "links: 4 links" in one[0]
        assert "Reply `approve`" in one[0]
        many = announcement(
            [HeldPost(f"h{i}", "bob@x.example", None, "x" * 300, reasons) for i in range(30)], mods
        )
        assert len(many) > 1
        assert all(status_length(text) <= 500 for text in [*one, *many])
        assert all(f"h{i}" in "".join(many) for i in range(30))

    def test_replies_are_split_to_fit(self) -> None:
        """Long answers become several DMs, each starting with the mention."""
        texts = replies("mira@home.example", [f"line {i} " + "y" * 80 for i in range(20)])
        assert len(texts) > 1
        assert all(t.startswith("@mira@home.example ") and status_length(t) <= 500 for t in texts)
