"""PURE decisions of the moderation channel: who may command, what runs, and what the bot answers.

A mention of the bot arrives as a `relay.core.items.Mention` queue item carrying a
`relay.core.dm.DirectMessage`.
`triage(dm, who, bot_handles=...)` applies the guards in order, the way Sopel runs
`require_privmsg` and `require_admin` before a handler, and returns a `Triage`: the commands to
run, the answers to send without running anything, and whether a refusal or a "send it as a DM"
note is due. `steps` then says what runs (a reply to a digest cannot mean one post) and `answer`
which DMs go back and how they are packed; their texts are in `relay.moderation.notices`.
Nothing here replies, touches the store or reads a clock; times are passed in.

The guards, in order:

1. `from_self`: the bot's own posts are dropped first, silently (maubot's self-ignore).
2. `is_edited`: an edited status is never run (what was read may not be what was sent);
   a moderator is told to send the command again.
3. `is_moderator`: the sender's full `user@domain` is a configured moderator AND its account is
   the one the home instance gave for that handle when the relay looked it up (`AccountId`: the
   ActivityPub `uri` where the server gives one, and the home instance's account `id`, which every
   server gives, GoToSocial without a `uri` included). Never the display name (a `DirectMessage`
   does not even carry one), never the profile `url` (a remote server sets it to anything).
4. per command line: `requires_moderator(cmd)` and not a moderator: never run; one polite
   refusal, rate-limited per sender by `Refusals`.
5. `is_direct`: moderator commands run only from `direct` statuses; in a public, unlisted or
   followers-only mention they are not run and the moderator is asked to resend by DM. Anyone's
   `optout` / `optin` run from any mention; the directory's `join`, `leave` and `intro` run only
   from a DM (elsewhere the sender is asked for one); other public chatter is ignored.

Text quoted from another post never reaches the parser: `DirectMessage.text` leaves out
quote-inline spans, blockquotes and `>` lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from relay.core.accounts import AccountId
from relay.core.dm import DirectMessage
from relay.moderation.grammar import (
    Approve,
    Boost,
    Command,
    Help,
    Intro,
    Join,
    Leave,
    OptIn,
    OptOut,
    Parsed,
    Reject,
    Unboost,
    Unknown,
    UsageError,
    Why,
    help_text,
    parse,
    requires_moderator,
)
from relay.moderation.handles import PostUrl, Ref
from relay.moderation.notices import (
    ASK_FOR_DM,
    DIGEST_NEEDS_ID,
    EDITED,
    REFUSAL,
    HeldPost,
    mention_prefix,
    quiet,
    replies,
)


@dataclass(frozen=True, slots=True)
class Who:
    """Who is who: the bot itself and the moderators (handle → account; None: not found yet)."""

    self_acct: str
    self_id: AccountId
    moderators: Mapping[str, AccountId | None]


# -- guards ---------------------------------------------------------------------------------------


def from_self(dm: DirectMessage, who: Who) -> bool:
    """The bot's own post (by handle or by account)."""
    return dm.acct == who.self_acct or who.self_id.matches(dm.sender)


def is_edited(dm: DirectMessage) -> bool:
    """The status was edited after it was sent."""
    return dm.edited_at is not None


def is_moderator(dm: DirectMessage, who: Who) -> bool:
    """A configured moderator: full `user@domain` AND the account the home instance reported."""
    account = who.moderators.get(dm.acct)
    return account is not None and account.matches(dm.sender)


def is_direct(dm: DirectMessage) -> bool:
    """A direct message (not a public, unlisted or followers-only mention)."""
    return dm.is_direct


# -- triage ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Triage:
    """What to do with one mention: run `commands`, send `answers`, maybe refuse or ask for a DM."""

    moderator: bool = False
    commands: tuple[Command, ...] = ()
    answers: tuple[str, ...] = ()
    help: bool = False  # an unknown line in a DM: answer with the help text
    refuse: bool = False  # a non-moderator sent a moderator command
    ask_for_dm: bool = False  # a DM-only command came outside a DM
    dropped: str | None = None  # why the whole message was dropped (for the log)
    refused_words: tuple[str, ...] = field(default=())

    @property
    def unsolicited(self) -> bool:
        """A refusal, or the help for an unknown line with no command, is due: answers nobody asked
        for, which a non-moderator gets only as often as `Refusals` allows."""
        return self.refuse or (self.help and not self.commands)


def triage(dm: DirectMessage, who: Who, *, bot_handles: Iterable[str] = ()) -> Triage:
    """Apply the guards to `dm` and sort its lines into what runs and what is only answered."""
    if from_self(dm, who):
        return Triage(dropped="own post")
    moderator = is_moderator(dm, who)
    if is_edited(dm):
        return Triage(moderator=moderator, answers=(EDITED,) if moderator else (), dropped="edited")
    direct = is_direct(dm)
    commands: list[Command] = []
    answers: list[str] = []
    refused: list[str] = []
    wants_help = ask = False
    for parsed in parse(dm.text, bot_handles=bot_handles):
        if requires_moderator(parsed) and not moderator:
            if direct or not isinstance(parsed, UsageError):
                refused.append(_word(parsed))
            continue
        if not direct:
            if isinstance(parsed, OptOut | OptIn):
                commands.append(parsed)
            elif isinstance(parsed, Join | Leave | Intro) or (
                moderator and not isinstance(parsed, Unknown | Help) and requires_moderator(parsed)
            ):
                ask = True
            continue
        if isinstance(parsed, Unknown):
            wants_help = True
        elif isinstance(parsed, UsageError):
            answers.append(usage_answer(parsed))
        else:
            commands.append(parsed)
    return Triage(
        moderator=moderator,
        commands=tuple(commands),
        answers=tuple(answers),
        help=wants_help,
        refuse=bool(refused),
        ask_for_dm=ask,
        dropped=None if commands or answers or wants_help or refused or ask else "nothing to do",
        refused_words=tuple(refused),
    )


def usage_answer(error: UsageError) -> str:
    """The answer to a known command with bad arguments: what is wrong and how to write it."""
    text = quiet(error.message)
    return f"{text}. Usage: {error.usage}" if error.usage else f"{text}."


def _word(parsed: Parsed) -> str:
    if isinstance(parsed, UsageError):
        return parsed.command or "?"
    return type(parsed).__name__.lower()


# -- running and answering ------------------------------------------------------------------------


def lookup_due(acct: str, who: Who, last_try: float | None, now: float, *, every: float = 60.0) -> bool:
    """Whether to look a moderator up again before triage: `acct` is configured but was not found
    at the last look, which was more than `every` seconds ago (or never)."""
    if acct not in who.moderators or who.moderators[acct] is not None:
        return False
    return last_try is None or now - last_try > every


def refs(cmd: Command) -> tuple[Ref, ...]:
    """The posts `cmd` names (a `boost` names its URL)."""
    if isinstance(cmd, Approve):
        return cmd.refs
    if isinstance(cmd, Why | Reject) and cmd.ref is not None:
        return (cmd.ref,)
    if isinstance(cmd, Unboost):
        return (cmd.ref,)
    if isinstance(cmd, Boost):
        return (PostUrl(cmd.url),)
    if isinstance(cmd, Intro) and cmd.url is not None:
        return (PostUrl(cmd.url),)
    return ()


def named_urls(commands: Iterable[Command]) -> list[str]:
    """Every post URL the commands name, sorted, once each: what the channel resolves before running."""
    return sorted({ref.url for cmd in commands for ref in refs(cmd) if isinstance(ref, PostUrl)})


def names_reply(cmd: Command) -> bool:
    """A command that, without an id, means the post the DM replies to."""
    return (isinstance(cmd, Approve) and not cmd.refs) or (isinstance(cmd, Reject | Why) and cmd.ref is None)


def steps(commands: Iterable[Command], *, digest: bool) -> list[Command | str]:
    """What to do for each command, in order: the command to run, or a line to answer instead.

    `help` is not run (its text is part of `answer`); in a reply to a digest, a command that means
    "the post this replies to" is answered with how to name one, since a digest lists several.
    """
    return [
        DIGEST_NEEDS_ID if digest and names_reply(cmd) else cmd
        for cmd in commands
        if not isinstance(cmd, Help)
    ]


def answer(acct: str, verdict: Triage, lines: Sequence[str], *, unsolicited: bool) -> list[str]:
    """The DMs that answer one mention from `acct`, in the order they are sent.

    `lines` are what triage and the commands said; then the request to resend by DM, and, when
    `unsolicited` answers may go out (see `Triage.unsolicited`), the refusal. They are packed into as
    few DMs as fit; each help text (asked for, or for an unknown line) follows as a DM of its own.
    """
    prefix = mention_prefix([acct])
    lines = [*lines, ASK_FOR_DM] if verdict.ask_for_dm else list(lines)
    helps = [
        text
        for cmd in verdict.commands
        if isinstance(cmd, Help)
        for text in help_text(moderator=verdict.moderator, topic=cmd.topic, prefix=prefix)
    ]
    if unsolicited and verdict.refuse:
        lines.append(REFUSAL)
    if unsolicited and verdict.help and not verdict.commands:
        helps += help_text(moderator=verdict.moderator, prefix=prefix)
    return (replies(acct, lines) if lines else []) + [prefix + text for text in helps]


# -- rate limit for answers nobody asked a moderator for -------------------------------------------


class Refusals:
    """At most one unsolicited answer (refusal, help for chatter) per sender per `interval` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def allow(self, acct: str, now: float) -> bool:
        """Whether `acct` may get one now; if so, it counts."""
        last = self._last.get(acct)
        if last is not None and now - last < self.interval:
            return False
        self._last[acct] = now
        if len(self._last) > 10_000:  # forget the oldest: a flood must not grow memory forever
            for key in sorted(self._last, key=self._last.__getitem__)[:5_000]:
                del self._last[key]
        return True


# -- hold announcements ---------------------------------------------------------------------------


class Batcher:
    """Gathers held posts for the moderators: the first after a quiet spell goes out at once;
    more within `interval` seconds of the last notice wait and go out together as one digest."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.waiting: list[HeldPost] = []
        self._last_sent: float | None = None

    def add(self, post: HeldPost) -> None:
        self.waiting = [p for p in self.waiting if p.short_id != post.short_id] + [post]

    def due(self, now: float) -> bool:
        """Whether the waiting posts should be announced now."""
        quiet_spell = self._last_sent is None or now - self._last_sent >= self.interval
        return bool(self.waiting) and quiet_spell

    def take(self, now: float) -> list[HeldPost]:
        """The posts to announce now (empty until due), oldest first."""
        if not self.due(now):
            return []
        batch, self.waiting = self.waiting, []
        self._last_sent = now
        return batch

    def give_back(self, batch: Sequence[HeldPost]) -> None:
        """Sending failed: keep them for the next turn."""
        known = {p.short_id for p in self.waiting}
        self.waiting = [p for p in batch if p.short_id not in known] + self.waiting
