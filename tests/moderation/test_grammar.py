"""The DM command grammar (relay.moderation.grammar): text in, typed commands or usage errors out."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.moderation.grammar import (
    ALLOWED_FOR_ANYONE,
    COMMANDS,
    MAX_COMMANDS,
    Approve,
    Block,
    Boost,
    Command,
    Help,
    Intro,
    Join,
    Leave,
    OptIn,
    OptOut,
    Parsed,
    Pause,
    Queue,
    Reject,
    Resume,
    Status,
    Trust,
    Unblock,
    Unboost,
    Unknown,
    Unlist,
    Untrust,
    UsageError,
    Why,
    help_text,
    parse,
    parse_line,
    render,
    requires_moderator,
)
from relay.moderation.handles import Account, Domain, PostUrl, ShortId
from relay.moderation.notices import status_length

BOT = ("relaybot@therapists.example",)
POST = "https://therapists.example/@alice/111222333444555666"


def one(text: str) -> Parsed:
    """The single result of parsing `text` as a DM to the bot."""
    (result,) = parse(text, bot_handles=BOT)
    return result


def usage_error(text: str, command: str) -> UsageError:
    """Parse `text` and check it is a usage error for `command`."""
    result = one(text)
    assert isinstance(result, UsageError), result
    assert result.command == command
    assert result.usage is not None
    assert result.usage.split()[0] == command
    return result


class TestTable:
    def test_names_and_aliases_are_unique(self) -> None:
        """No word names two commands."""
        words = [w for spec in COMMANDS for w in (spec.name, *spec.aliases)]
        assert len(words) == len(set(words))

    def test_every_command_is_declared_once(self) -> None:
        """Each typed command has exactly one entry in the table."""
        kinds = [spec.kind for spec in COMMANDS]
        assert len(kinds) == len(set(kinds)) == 20

    def test_who_may_use_what(self) -> None:
        """Authors may send help, optout, optin and the directory's join, leave and intro; everything
        else (unlist too) is for moderators."""
        assert frozenset({"help", "optout", "optin", "join", "leave", "intro"}) == ALLOWED_FOR_ANYONE
        assert requires_moderator(Unlist("a@x.example"))
        assert not requires_moderator(Join())
        assert not requires_moderator(OptOut())
        assert not requires_moderator(OptIn())
        assert not requires_moderator(Help())
        assert requires_moderator(Approve())
        assert requires_moderator(Block(Domain("spam.example")))
        assert requires_moderator(Status())

    def test_who_may_see_a_usage_error(self) -> None:
        """A usage error inherits its command's guard; an unknown word needs no moderator."""
        assert requires_moderator(one("block alice"))
        assert not requires_moderator(one("optout now"))
        assert not requires_moderator(Unknown("hello"))
        assert not requires_moderator(UsageError(None, "too many", None))


class TestHelp:
    def test_help_lists_every_command_from_the_table(self) -> None:
        """The moderators' help has each command's usage and help line, in DM-sized messages."""
        messages = help_text(prefix="@mod@therapists.example ")
        joined = "\n".join(messages)
        for spec in COMMANDS:
            assert f"{spec.usage} — {spec.help}" in joined
        assert all(status_length("@mod@therapists.example " + m) <= 500 for m in messages)

    def test_authors_see_only_their_commands(self) -> None:
        """Help for someone who is not a moderator lists only what anyone may send."""
        joined = "\n".join(help_text(moderator=False))
        assert "optout" in joined
        assert "approve" not in joined
        assert "block" not in joined

    def test_help_for_one_command(self) -> None:
        """`help reject` explains reject alone, with who may use it."""
        (message,) = help_text(topic="reject")
        assert message.startswith("reject [ID] [reason…] — ")
        assert "moderators" in message

    def test_help_parses_with_and_without_topic(self) -> None:
        """`help`, `?`, `help opt out` and `HELP Approve` parse to Help; a bad topic is a usage error."""
        assert one("help") == Help()
        assert one("?") == Help()
        assert one("help opt out") == Help("optout")
        assert one("HELP Approve") == Help("approve")
        usage_error("help frobnicate", "help")

    @pytest.mark.parametrize("max_chars", [120, 200, 500, 5000])
    def test_help_fits_any_budget(self, max_chars: int) -> None:
        """Help is split into as many messages as the budget needs, each within it."""
        messages = help_text(max_chars=max_chars)
        assert all(status_length(m) <= max_chars for m in messages)
        assert (len(messages) == 1) is (max_chars == 5000)


class TestReviewCommands:
    def test_queue_and_status_and_pause(self) -> None:
        """Argument-less commands parse, and refuse arguments."""
        assert one("queue") == Queue()
        assert one("pending") == Queue()
        assert one("Status") == Status()
        assert one("pause") == Pause()
        assert one("resume") == Resume()
        assert usage_error("pause for lunch", "pause").message == "pause takes no arguments; got 'for lunch'"

    def test_approve_in_reply(self) -> None:
        """`approve` alone means the post this DM replies to."""
        assert one("approve") == Approve(())

    def test_approve_many_ids(self) -> None:
        """Several ids, any case, `#h`, commas, duplicates once."""
        expected = Approve((ShortId("h12"), ShortId("h7"), ShortId("h3")))
        assert one("approve H12 #h7, h3 h12.") == expected
        assert one("approve h012") == Approve((ShortId("h12"),))

    def test_approve_by_url(self) -> None:
        """A post URL is a reference too."""
        assert one(f"approve {POST}") == Approve((PostUrl(POST),))

    @pytest.mark.parametrize(
        "bad", ["approve soon", "approve h", "approve h1x", "approve h1234567890123456789"]
    )
    def test_approve_bad_ids(self, bad: str) -> None:
        """Words that are not ids or URLs are usage errors naming the word."""
        error = usage_error(bad, "approve")
        assert bad.split()[1] in error.message

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("reject h12 spam link", Reject(ShortId("h12"), "spam link")),
            ("reject spam link", Reject(None, "spam link")),
            ("reject", Reject(None, None)),
            ("reject #H12", Reject(ShortId("h12"), None)),
            ("reject h12: off topic", Reject(ShortId("h12"), "off topic")),
            ("reject h12 - off  topic\t", Reject(ShortId("h12"), "off topic")),
            (f"reject {POST} spam", Reject(PostUrl(POST), "spam")),
            ("reject hello h12", Reject(None, "hello h12")),
        ],
    )
    def test_reject(self, text: str, expected: Reject) -> None:
        """An id first is the post; the rest is the reason; no id means the replied-to post."""
        assert one(text) == expected

    def test_reject_two_ids_is_refused(self) -> None:
        """`reject h12 h13` is refused rather than rejecting h12 for the reason 'h13'."""
        assert "one post at a time" in usage_error("reject h12 h13", "reject").message

    def test_reject_reason_too_long(self) -> None:
        """A reason longer than 500 characters is a usage error."""
        usage_error("reject h1 " + "x" * 501, "reject")

    def test_why(self) -> None:
        """`why` takes one id or URL, or none in a reply."""
        assert one("why h9") == Why(ShortId("h9"))
        assert one(f"why <{POST}>.") == Why(PostUrl(POST))
        assert one("why") == Why(None)
        usage_error("why h1 h2", "why")

    def test_boost_and_unboost(self) -> None:
        """boost takes a URL; unboost an id or URL; an id for boost points to approve."""
        assert one(f"boost {POST}") == Boost(POST)
        assert one("unboost h5") == Unboost(ShortId("h5"))
        assert one(f"retract {POST}") == Unboost(PostUrl(POST))
        assert "approve h4" in usage_error("boost h4", "boost").message
        usage_error("boost", "boost")
        usage_error("unboost", "unboost")

    @pytest.mark.parametrize(
        ("raw", "url"),
        [
            ("HTTPS://Therapists.Example/@Alice/1", "https://therapists.example/@Alice/1"),
            ("https://therapists.example/@alice/1),", "https://therapists.example/@alice/1"),
            ("http://127.0.0.1:8123/@alice/1", "http://127.0.0.1:8123/@alice/1"),
            ("https://bücher.example/p/1", "https://xn--bcher-kva.example/p/1"),
        ],
    )
    def test_urls_are_normalised(self, raw: str, url: str) -> None:
        """Scheme and host go lower case (punycode), the path keeps its case, trailing punctuation goes."""
        assert one(f"boost {raw}") == Boost(url)

    @pytest.mark.parametrize(
        "raw",
        [
            "ftp://x.example/1",
            "https://",
            "https://user@x.example/1",
            "https://x/1",
            "https://[::1/",
            "javascript:x",
        ],
    )
    def test_bad_urls(self, raw: str) -> None:
        """Only http(s) URLs with a proper host are accepted."""
        usage_error(f"boost {raw}", "boost")


class TestPeopleCommands:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "block @Spammer@Evil.Example buys followers",
                Block(Account("spammer@evil.example"), "buys followers"),
            ),
            ("block evil.example", Block(Domain("evil.example"))),
            ("block *.evil.example.", Block(Domain("evil.example"))),
            ("block alice@127.0.0.1:8123", Block(Account("alice@127.0.0.1:8123"))),
            ("block localhost:3000", Block(Domain("localhost:3000"))),
            ("unblock EVIL.example", Unblock(Domain("evil.example"))),
            ("unblock @a.b-c_d@x.example", Unblock(Account("a.b-c_d@x.example"))),
        ],
    )
    def test_block_targets(self, text: str, expected: Command) -> None:
        """Accounts and domains are told apart and normalised to lower case without '@'."""
        assert one(text) == expected

    @pytest.mark.parametrize(
        "target",
        [
            "alice",
            "@alice",
            "alice@",
            "@",
            "-bad-.example",
            "evil.example:443",
            "x.123",
            "a@b@c.example",
            "a" * 300,
        ],
    )
    def test_block_bad_targets(self, target: str) -> None:
        """A bare name (ambiguous), a port off loopback or a malformed host is a usage error."""
        usage_error(f"block {target}", "block")

    def test_bare_name_explains_the_ambiguity(self) -> None:
        """The usage error for a bare name says why a domain is needed."""
        assert "ambiguous" in usage_error("block alice", "block").message
        assert "ambiguous" in usage_error("trust alice", "trust").message

    def test_trust_and_untrust_take_accounts_only(self) -> None:
        """trust/untrust take exactly one user@domain."""
        assert one("trust @Alice@Therapists.Example") == Trust("alice@therapists.example")
        assert one("untrust alice@127.0.0.1:8123") == Untrust("alice@127.0.0.1:8123")
        usage_error("trust therapists.example", "trust")
        usage_error("trust a@x.example b@x.example", "trust")
        usage_error("untrust", "untrust")

    def test_unblock_needs_one_target(self) -> None:
        """unblock without a target or with two is a usage error."""
        usage_error("unblock", "unblock")
        usage_error("unblock a.example b.example", "unblock")
        usage_error("block", "block")

    @pytest.mark.parametrize("text", ["optout", "opt-out", "OPT OUT", "opt out.", "/optout"])
    def test_opt_out_spellings(self, text: str) -> None:
        """Authors can write opt-out in the usual ways."""
        assert one(text) == OptOut()

    @pytest.mark.parametrize("text", ["optin", "Opt-In", "opt in", "opt in!"])
    def test_opt_in_spellings(self, text: str) -> None:
        """And opt-in too."""
        assert one(text) == OptIn()


class TestMessages:
    def test_mentions_are_stripped(self) -> None:
        """The bot's and co-recipients' leading mentions go; a mention-only line is ignored."""
        text = "@relaybot@therapists.example @mod2@therapists.example approve h1\n@relaybot\n"
        assert parse(text, bot_handles=BOT) == [Approve((ShortId("h1"),))]

    def test_bot_mention_later_in_the_line_is_dropped(self) -> None:
        """A trailing mention of the bot does not count as an argument; another account's does."""
        assert one("approve h1 @RelayBot") == Approve((ShortId("h1"),))
        assert one("block @spam@x.example @relaybot@therapists.example") == Block(Account("spam@x.example"))
        assert parse("approve @relaybot@other.example", bot_handles=BOT)[0] == UsageError(
            "approve",
            "approve takes an id like h42 or a post URL, not '@relaybot@other.example'",
            "approve [ID…]",
        )

    def test_several_lines(self) -> None:
        """One command per line, blank lines and surrounding space ignored, in order."""
        text = "\n  @relaybot approve h1 h2\n\n   reject h3 off topic  \n\tBLOCK spam.example\nfrobnicate\n"
        assert parse(text, bot_handles=BOT) == [
            Approve((ShortId("h1"), ShortId("h2"))),
            Reject(ShortId("h3"), "off topic"),
            Block(Domain("spam.example")),
            Unknown("frobnicate"),
        ]

    def test_quotes_never_run(self) -> None:
        """Lines starting with '>' are quotes and are ignored, even after mentions."""
        text = "> approve h1\n>block a.example\n@relaybot > unblock a.example\nstatus"
        assert parse(text, bot_handles=BOT) == [Status()]

    @pytest.mark.parametrize("text", ["", "   \n\n", "@relaybot", "> approve h1", "\u200b"])
    def test_nothing_to_do_asks_for_help(self, text: str) -> None:
        """A message with no command at all gives [Unknown('')], so the caller sends help."""
        assert parse(text, bot_handles=BOT) == [Unknown("")]

    def test_unknown_word_is_kept_short(self) -> None:
        """An unknown command keeps its first word (at most 64 characters) for the reply."""
        assert one("Thanks!") == Unknown("Thanks!")
        assert one("x" * 1000) == Unknown("x" * 64)

    def test_parse_line(self) -> None:
        """parse_line reads one line; blank, quoted and mention-only lines give None."""
        assert parse_line("Approve H1") == Approve((ShortId("h1"),))
        assert parse_line("  ") is None
        assert parse_line("> approve") is None
        assert parse_line("@relaybot@therapists.example") is None

    def test_too_many_commands(self) -> None:
        """Past MAX_COMMANDS lines the rest is not read, and the sender is told."""
        results = parse("status\n" * (MAX_COMMANDS + 5))
        assert results[:MAX_COMMANDS] == [Status()] * MAX_COMMANDS
        assert isinstance(results[-1], UsageError)
        assert len(results) == MAX_COMMANDS + 1

    def test_huge_line(self) -> None:
        """A megabyte of arguments is a usage error, not a crash or a hang."""
        assert isinstance(one("approve " + "h1x " * 250_000), UsageError)


# -- properties -------------------------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
hosts = st.one_of(
    st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(_label, min_size=1, max_size=3),
              st.from_regex(r"[a-z]{2,6}", fullmatch=True)),
    st.integers(1, 65535).map(lambda port: f"127.0.0.1:{port}"),
    st.just("localhost"),
)  # fmt: skip
users = st.from_regex(r"[a-z0-9_]([a-z0-9_.-]{0,10}[a-z0-9_])?", fullmatch=True)
handles = st.builds(lambda user, host: f"{user}@{host}", users, hosts)
urls = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(["http", "https"]),
    hosts,
    st.from_regex(r"(@[A-Za-z0-9_]{1,10}/)?[A-Za-z0-9_-]{0,20}[A-Za-z0-9]", fullmatch=True),
)
short_ids = st.integers(0, 10**18 - 1).map(lambda n: ShortId(f"h{n}"))
refs = st.one_of(short_ids, urls.map(PostUrl))
targets = st.one_of(handles.map(Account), hosts.map(Domain))
_reason_chars = st.characters(
    blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\u200b\u2060\ufeff\x85\x1c\x1d\x1e"
)


def _is_reason(text: str) -> bool:
    first = text.split()[0] if text.split() else ""
    return (
        bool(text)
        and text == " ".join(text.split())
        and text[0] not in "-–—: "
        and not re.match(r"(?i)#?h[0-9]|<?https?://", first)
        and len(text) <= 500
    )


reasons = (
    st.text(_reason_chars, min_size=1, max_size=80).map(lambda t: " ".join(t.split())).filter(_is_reason)
)
commands: st.SearchStrategy[Command] = st.one_of(
    st.sampled_from(
        [Queue(), Pause(), Resume(), Status(), OptOut(), OptIn(), Help(), Approve(), Why(), Reject()]
    ),
    st.sampled_from([spec.name for spec in COMMANDS]).map(Help),
    refs.map(Why),
    st.lists(refs, max_size=5, unique=True).map(lambda rs: Approve(tuple(rs))),
    st.builds(Reject, st.one_of(st.none(), refs), st.one_of(st.none(), reasons)),
    urls.map(Boost),
    refs.map(Unboost),
    st.builds(Block, targets, st.one_of(st.none(), reasons)),
    targets.map(Unblock),
    handles.map(Trust),
    handles.map(Untrust),
)
BY_NAME = {spec.name: spec for spec in COMMANDS}


class TestProperties:
    @given(text=st.text(), handles=st.lists(st.text(max_size=30), max_size=3))
    def test_parse_never_raises_on_any_text(self, text: str, handles: list[str]) -> None:
        """Whatever arrives, parse returns only commands, usage errors or unknowns."""
        results = parse(text, bot_handles=handles)
        assert results
        assert all(isinstance(r, Command | UsageError | Unknown) for r in results)

    @given(
        words=st.lists(
            st.one_of(
                st.sampled_from([w for spec in COMMANDS for w in (spec.name, *spec.aliases)]),
                st.sampled_from(["h1", "#H2", "@relaybot", ">", "https://", "a@b", "*.x.y", "\n", ":", "…"]),
                st.text(st.characters(codec="utf-8"), max_size=12),
            ),
            max_size=12,
        )
    )
    def test_parse_never_raises_near_commands(self, words: list[str]) -> None:
        """Text built from command words, ids and junk never makes parse raise."""
        results = parse(" ".join(words), bot_handles=BOT)
        assert all(isinstance(r, Command | UsageError | Unknown) for r in results)
        for r in results:
            if isinstance(r, UsageError) and r.command:
                assert r.message.startswith(r.command)

    @given(cmd=commands)
    def test_render_round_trips(self, cmd: Command) -> None:
        """Every valid command, rendered as text, parses back to the same value."""
        assert parse(render(cmd)) == [cmd]

    @given(cmd=commands, data=st.data())
    def test_spoken_forms_round_trip(self, cmd: Command, data: st.DataObject) -> None:
        """Aliases, any case, extra space, a slash and leading mentions do not change the value."""
        name, _, rest = render(cmd).partition(" ")
        spec = BY_NAME[name]
        word = data.draw(st.sampled_from((spec.name, *spec.aliases)))
        word = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in word)
        word = data.draw(st.sampled_from(["", "/"])) + word
        mention = data.draw(
            st.sampled_from(["", "@relaybot ", "@RelayBot@therapists.example @mod@x.example "])
        )
        gap = data.draw(st.sampled_from([" ", "  ", "\t", " \u00a0"]))
        text = f"\n  {mention}{word}{gap}{rest}  \n"
        assert parse(text, bot_handles=BOT) == [cmd]


class TestDirectory:
    def test_directory_commands(self) -> None:
        """`join`, `leave`, `intro [URL]` and `unlist user@domain` parse to their values."""
        assert one("join") == Join()
        assert one("Leave.") == Leave()
        assert one("intro") == Intro()
        assert one("intro https://a.example/@ann/1") == Intro("https://a.example/@ann/1")
        assert one("unlist @Bob@X.example") == Unlist("bob@x.example")

    def test_directory_usage_errors(self) -> None:
        """`intro` takes a post link only; `unlist` needs a full handle; `join` takes nothing."""
        usage_error("intro h42", "intro")
        usage_error("unlist bob", "unlist")
        usage_error("join me please", "join")

    def test_render_round_trip(self) -> None:
        """The directory's commands render to text that parses back to the same value."""
        for cmd in (Join(), Leave(), Intro(), Intro("https://a.example/@ann/1"), Unlist("b@x.example")):
            assert one(render(cmd)) == cmd
