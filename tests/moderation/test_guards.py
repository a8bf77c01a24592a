"""The channel's pure decisions after triage (relay.moderation.guards): what runs and what is answered."""

from __future__ import annotations

import pytest

from relay.core.accounts import AccountId
from relay.moderation.grammar import (
    Approve,
    Block,
    Boost,
    Command,
    Help,
    OptOut,
    Queue,
    Reject,
    Unboost,
    Why,
    help_text,
)
from relay.moderation.guards import Triage, Who, answer, lookup_due, named_urls, names_reply, refs, steps
from relay.moderation.handles import Account, PostUrl, ShortId
from relay.moderation.notices import ASK_FOR_DM, DIGEST_NEEDS_ID, REFUSAL, status_length

ACCT = "mira@home.example"
PREFIX = "@mira@home.example "
URL = "https://x.example/@bob/7"
WHO = Who(
    "relay@home.example",
    AccountId("https://home.example/users/relay", "1"),
    {ACCT: None, "remi@r.example": AccountId("u", "2")},
)


class TestLookupDue:
    def test_a_moderator_not_found_is_looked_up_again_after_a_minute(self) -> None:
        """A configured moderator the instance did not find is retried, at most once a minute."""
        assert lookup_due(ACCT, WHO, None, 0.0)
        assert not lookup_due(ACCT, WHO, 100.0, 160.0)
        assert lookup_due(ACCT, WHO, 100.0, 160.5)

    def test_found_moderators_and_strangers_are_not_looked_up(self) -> None:
        """Only a moderator without an account URI is looked up; anyone else never is."""
        assert not lookup_due("remi@r.example", WHO, None, 1e6)
        assert not lookup_due("eve@x.example", WHO, None, 1e6)


class TestSteps:
    def test_refs_and_urls_the_commands_name(self) -> None:
        """Post URLs named by any command are resolved once each, sorted; ids and accounts are not."""
        a, b = PostUrl("https://b.example/1"), PostUrl("https://a.example/2")
        commands = (
            Approve((ShortId("h1"), a)),
            Why(b),
            Reject(a, "spam"),
            Boost(URL),
            Block(Account("e@x.example")),
        )
        assert refs(Unboost(ShortId("h3"))) == (ShortId("h3"),)
        assert refs(Queue()) == ()
        assert named_urls(commands) == ["https://a.example/2", "https://b.example/1", URL]

    @pytest.mark.parametrize(
        ("cmd", "means_reply"),
        [
            (Approve(()), True),
            (Reject(None, "spam"), True),
            (Why(None), True),
            (Approve((ShortId("h1"),)), False),
            (Reject(ShortId("h1")), False),
            (Queue(), False),
        ],
    )
    def test_names_reply(self, cmd: Command, means_reply: bool) -> None:
        """`approve`, `reject` and `why` without an id mean the post the DM replies to."""
        assert names_reply(cmd) is means_reply

    def test_commands_run_in_order_and_help_is_not_run(self) -> None:
        """Every command but `help` runs, in the order it was written."""
        commands = (Queue(), Help(), Approve(()), OptOut())
        assert steps(commands, digest=False) == [Queue(), Approve(()), OptOut()]

    def test_a_reply_to_a_digest_must_name_the_post(self) -> None:
        """In a reply to a digest, a command meaning "this post" is answered instead of run."""
        commands = (Approve(()), Approve((ShortId("h1"),)), Reject(None, "spam"), Queue())
        assert steps(commands, digest=True) == [
            DIGEST_NEEDS_ID,
            Approve((ShortId("h1"),)),
            DIGEST_NEEDS_ID,
            Queue(),
        ]


class TestAnswer:
    def test_lines_become_one_reply_with_the_mention(self) -> None:
        """What the commands said goes back as one DM starting with the sender's mention."""
        verdict = Triage(moderator=True, commands=(Queue(),))
        assert answer(ACCT, verdict, ["a", "b"], unsolicited=False) == [PREFIX + "a\nb"]

    def test_nothing_to_say_sends_nothing(self) -> None:
        """No lines and no help: no DM at all (not an empty one)."""
        assert answer(ACCT, Triage(moderator=True, commands=(Queue(),)), [], unsolicited=True) == []

    def test_ask_for_dm_comes_after_the_lines(self) -> None:
        """The request to resend by DM follows what was answered, in the same DM."""
        verdict = Triage(moderator=True, ask_for_dm=True)
        assert answer(ACCT, verdict, ["x"], unsolicited=False) == [f"{PREFIX}x\n{ASK_FOR_DM}"]

    def test_refusal_only_when_unsolicited_answers_may_go(self) -> None:
        """A refusal is sent only when the rate limit (or being a moderator) allows it."""
        verdict = Triage(refuse=True, refused_words=("block",))
        assert verdict.unsolicited
        assert answer(ACCT, verdict, [], unsolicited=True) == [PREFIX + REFUSAL]
        assert answer(ACCT, verdict, [], unsolicited=False) == []

    def test_help_asked_for_follows_as_its_own_dms(self) -> None:
        """`help` (and `help approve`) is answered after the lines, each text a DM of its own."""
        verdict = Triage(moderator=True, commands=(Help(), Help("approve")))
        texts = answer(ACCT, verdict, ["done"], unsolicited=False)
        helps = help_text(prefix=PREFIX) + help_text(topic="approve", prefix=PREFIX)
        assert texts == [PREFIX + "done"] + [PREFIX + text for text in helps]
        assert all(status_length(text) <= 500 for text in texts)

    def test_unknown_line_gets_the_help_for_what_the_sender_may_do(self) -> None:
        """Chatter without a command gets the help (only what anyone may send, for a stranger)."""
        verdict = Triage(help=True)
        assert verdict.unsolicited
        assert answer(ACCT, verdict, [], unsolicited=True) == [
            PREFIX + t for t in help_text(moderator=False, prefix=PREFIX)
        ]
        assert answer(ACCT, verdict, [], unsolicited=False) == []

    def test_unknown_line_beside_a_command_gets_no_help(self) -> None:
        """An unknown line next to a command is not answered with the help, and owes nothing unasked."""
        verdict = Triage(moderator=True, commands=(Queue(),), help=True)
        assert not verdict.unsolicited
        assert answer(ACCT, verdict, ["q"], unsolicited=True) == [PREFIX + "q"]
