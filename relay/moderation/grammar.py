"""PURE DM command grammar: the plain text of a direct message → typed commands or usage errors.

`parse(text, bot_handles=...)` reads one command per line and returns, per line, a frozen command
(`Approve(refs)`, `Block(target, reason)`, ...), a `UsageError` (a known command with bad
arguments) or `Unknown` (not a command: the caller answers with `help_text()`). It never replies,
never touches the store and never raises.

Every command is declared once, with `declare(...)` or `@command(...)`: its typed value, usage, one
line of help, aliases and who may use it. `help_text`, `requires_moderator` and `render` are built from that
table (maubot's `@command.new(help=...)`).

The lines of a DM are read this way:

- leading mentions are dropped (a Mastodon reply starts with every account in the thread: the bot,
  other moderators), and so are mentions of the bot (`bot_handles`) anywhere; a line of nothing but
  mentions is ignored, and so are blank lines and quotes (lines starting with `>`);
- the command word is case-insensitive, may start with `/` or `!`, and may end with `.`, `:` or `!`;
- short ids look like `h42` (any case, `#h42` too); URLs are `http(s)://` only, without trailing
  punctuation; handles are `user@domain`, lower case, without the leading `@`. A bare name is
  ambiguous across instances and refused. Domains look like host names; a port is allowed only on
  a loopback host (sandboxes: `alice@127.0.0.1:8123`). Non-ASCII domains become punycode.
- `approve` and `reject` (and `why`) without an id mean "the post this DM replies to": the caller
  resolves `in_reply_to_id`. `reject h12 spam link` rejects h12 for "spam link"; `reject spam
  link` in a reply rejects the replied-to post for "spam link".
- at most `MAX_COMMANDS` lines are read per message.

The values that commands name (`ShortId`, `PostUrl`, `Account`, `Domain`) and their parsing are in
`relay.moderation.handles`; import them from there.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from relay.core.accounts import norm_acct
from relay.errors import CommandError
from relay.moderation.handles import (
    PUNCT,
    Account,
    Domain,
    PostUrl,
    Ref,
    ShortId,
    Target,
    maybe_ref,
    parse_handle,
    parse_ref,
    parse_target,
    show,
)
from relay.moderation.notices import MASTODON_MAX_CHARS, pack_lines

MAX_COMMANDS = 20
MAX_REASON = 500


# -- commands ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Help:
    """Send the help text (for one command when `topic` is set)."""

    topic: str | None = None


@dataclass(frozen=True, slots=True)
class Queue:
    """List the posts waiting for review."""


@dataclass(frozen=True, slots=True)
class Why:
    """Explain a post's verdict; `ref` None means the post this DM replies to."""

    ref: Ref | None = None


@dataclass(frozen=True, slots=True)
class Approve:
    """Approve held posts; no refs means the post this DM replies to."""

    refs: tuple[Ref, ...] = ()


@dataclass(frozen=True, slots=True)
class Reject:
    """Reject a held post (`ref` None: the post this DM replies to), with an optional reason."""

    ref: Ref | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Boost:
    """Boost a post by its URL."""

    url: str


@dataclass(frozen=True, slots=True)
class Unboost:
    """Undo a boost."""

    ref: Ref


@dataclass(frozen=True, slots=True)
class Block:
    """Block an account or a domain, with an optional reason."""

    target: Target
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Unblock:
    """Lift a block."""

    target: Target


@dataclass(frozen=True, slots=True)
class Trust:
    """Trust an account (`user@domain`): its posts skip review."""

    handle: str


@dataclass(frozen=True, slots=True)
class Untrust:
    """Stop trusting an account."""

    handle: str


@dataclass(frozen=True, slots=True)
class Pause:
    """Stop boosting."""


@dataclass(frozen=True, slots=True)
class Resume:
    """Start boosting again."""


@dataclass(frozen=True, slots=True)
class Status:
    """Report the relay's state."""


@dataclass(frozen=True, slots=True)
class OptOut:
    """The sender asks never to be boosted."""


@dataclass(frozen=True, slots=True)
class OptIn:
    """The sender allows being boosted."""


@dataclass(frozen=True, slots=True)
class Join:
    """The sender asks to be listed in the community's directory."""


@dataclass(frozen=True, slots=True)
class Leave:
    """The sender asks to be taken out of the directory."""


@dataclass(frozen=True, slots=True)
class Intro:
    """The sender's post (`url`, or None: the post this DM replies to) becomes their introduction."""

    url: str | None = None


@dataclass(frozen=True, slots=True)
class Unlist:
    """A moderator takes an account out of the directory."""

    handle: str


@dataclass(frozen=True, slots=True)
class UsageError:
    """A known command with bad arguments: what is wrong and the command's usage."""

    command: str | None
    message: str
    usage: str | None


@dataclass(frozen=True, slots=True)
class Unknown:
    """A line that is not a command (its first word, at most 64 characters); answer with help."""

    word: str


Command: TypeAlias = (
    Help
    | Queue
    | Why
    | Approve
    | Reject
    | Boost
    | Unboost
    | Block
    | Unblock
    | Trust
    | Untrust
    | Pause
    | Resume
    | Status
    | OptOut
    | OptIn
    | Join
    | Leave
    | Intro
    | Unlist
)
Parsed: TypeAlias = Command | UsageError | Unknown
ArgParser: TypeAlias = Callable[[list[str]], Command]


# -- the table --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spec:
    """One command: its typed value, usage line, one line of help, aliases and who may use it."""

    name: str
    kind: Callable[..., Command]
    usage: str
    help: str
    parse: ArgParser
    aliases: tuple[str, ...] = ()
    anyone: bool = False


_TABLE: list[Spec] = []


def declare(
    kind: Callable[..., Command],
    usage: str,
    help: str,
    parse: ArgParser | None = None,
    *,
    aliases: Sequence[str] = (),
    anyone: bool = False,
) -> None:
    """Declare a command, named by the first word of `usage`; without `parse` it takes no arguments."""

    def no_args(args: list[str]) -> Command:
        if args:
            raise CommandError(f"takes no arguments; got {show(' '.join(args))}")
        return kind()

    _TABLE.append(Spec(usage.split()[0], kind, usage, help, parse or no_args, tuple(aliases), anyone))


def command(
    kind: Callable[..., Command], usage: str, help: str, *, aliases: Sequence[str] = (), anyone: bool = False
) -> Callable[[ArgParser], ArgParser]:
    """`declare` as a decorator of the function that parses the command's arguments."""

    def register(fn: ArgParser) -> ArgParser:
        declare(kind, usage, help, fn, aliases=aliases, anyone=anyone)
        return fn

    return register


def _only(args: list[str], what: str) -> str:
    if len(args) != 1:
        raise CommandError(f"takes {what}")
    return args[0]


@command(Help, "help [COMMAND]", "this help, or one command's", aliases=("?", "commands"), anyone=True)
def _help(args: list[str]) -> Command:
    if not args:
        return Help()
    spec = _BY_WORD.get(_word(" ".join(args)))
    if spec is None:
        raise CommandError(f"knows no command {show(' '.join(args))}")
    return Help(spec.name)


declare(Queue, "queue", "the posts waiting for review", aliases=("pending",))


@command(Why, "why [ID|URL]", "a post's verdict and every reason (no ID: the post you reply to)")
def _why(args: list[str]) -> Command:
    if len(args) > 1:
        raise CommandError("takes one post: an id like h42 or a URL")
    return Why(parse_ref(args[0]) if args else None)


@command(Approve, "approve [ID…]", "approve held posts (no ID: the post you reply to)", aliases=("accept",))
def _approve(args: list[str]) -> Command:
    tokens = [t for arg in args for t in arg.split(",") if t]
    return Approve(tuple(dict.fromkeys(parse_ref(t) for t in tokens)))


@command(Reject, "reject [ID] [reason…]", "reject a held post (no ID: the post you reply to)")
def _reject(args: list[str]) -> Command:
    ref = maybe_ref(args[0]) if args else None
    rest = args[1:] if ref else args
    if rest and maybe_ref(rest[0]) is not None:
        raise CommandError(f"takes one post at a time: `reject {_render_ref(ref)} [reason]`, then the next")
    return Reject(ref, _reason(rest))


@command(Boost, "boost URL", "boost a post by its link")
def _boost(args: list[str]) -> Command:
    if len(args) != 1:
        raise CommandError("takes one post URL")
    ref = parse_ref(args[0])
    if not isinstance(ref, PostUrl):
        raise CommandError(f"takes a post URL; to boost held post {ref.id}, send `approve {ref.id}`")
    return Boost(ref.url)


@command(Unboost, "unboost ID|URL", "undo a boost", aliases=("retract", "unreblog"))
def _unboost(args: list[str]) -> Command:
    return Unboost(parse_ref(_only(args, "one post: an id like h42 or a URL")))


@command(Block, "block user@domain|domain [reason…]", "never boost them; retracts their boosts")
def _block(args: list[str]) -> Command:
    if not args:
        raise CommandError("needs whom to block: user@domain or a domain")
    return Block(parse_target(args[0]), _reason(args[1:]))


@command(Unblock, "unblock user@domain|domain", "lift a block")
def _unblock(args: list[str]) -> Command:
    return Unblock(parse_target(_only(args, "one account (user@domain) or domain")))


@command(Trust, "trust user@domain", "boost their posts without review")
def _trust(args: list[str]) -> Command:
    return Trust(parse_handle(_only(args, "one account: user@domain")))


@command(Untrust, "untrust user@domain", "review their posts again")
def _untrust(args: list[str]) -> Command:
    return Untrust(parse_handle(_only(args, "one account: user@domain")))


declare(Pause, "pause", "stop boosting (posts still queue up)")
declare(Resume, "resume", "start boosting again")
declare(Status, "status", "how the relay is doing")
declare(
    OptOut, "optout", "never boost my posts; undo past boosts", aliases=("opt-out", "opt out"), anyone=True
)
declare(OptIn, "optin", "allow boosting my posts", aliases=("opt-in", "opt in"), anyone=True)
declare(Join, "join", "list me in the community directory", anyone=True)
declare(Leave, "leave", "take me out of the directory", anyone=True)


@command(
    Intro,
    "intro [URL]",
    "make my post my introduction in the directory (no URL: the post you reply to)",
    anyone=True,
)
def _intro(args: list[str]) -> Command:
    if not args:
        return Intro()
    ref = parse_ref(_only(args, "one of your posts: its URL, or reply to it"))
    if not isinstance(ref, PostUrl):
        raise CommandError("takes one of your posts: its URL, or reply to it")
    return Intro(ref.url)


@command(Unlist, "unlist user@domain", "take them out of the directory")
def _unlist(args: list[str]) -> Command:
    return Unlist(parse_handle(_only(args, "one account: user@domain")))


COMMANDS: tuple[Spec, ...] = tuple(_TABLE)
"""Every command, in help order."""
_BY_WORD = {word: spec for spec in COMMANDS for word in (spec.name, *spec.aliases)}
_BY_KIND = {spec.kind: spec for spec in COMMANDS}
_BY_NAME = {spec.name: spec for spec in COMMANDS}
ALLOWED_FOR_ANYONE = frozenset(spec.name for spec in COMMANDS if spec.anyone)
"""Commands anyone may send (authors); every other command is for moderators only."""


def requires_moderator(cmd: Parsed) -> bool:
    """Whether only a moderator may send `cmd` (an unknown line or a general usage error: no)."""
    if isinstance(cmd, Unknown):
        return False
    if isinstance(cmd, UsageError):
        spec = _BY_NAME.get(cmd.command or "")
        return spec is not None and not spec.anyone
    return not _BY_KIND[type(cmd)].anyone


def help_text(
    *, moderator: bool = True, topic: str | None = None, max_chars: int = MASTODON_MAX_CHARS, prefix: str = ""
) -> list[str]:
    """The help (for moderators, or only what anyone may send) as DM-sized messages, from the table."""
    if topic is not None and (spec := _BY_WORD.get(_word(topic))) and (moderator or spec.anyone):
        also = f" (also: {', '.join(spec.aliases)})" if spec.aliases else ""
        who = "anyone" if spec.anyone else "moderators"
        lines = [f"{spec.usage} — {spec.help}{also}", f"For {who}. IDs look like h42."]
    else:
        lines = ["Commands, one per line; IDs look like h42:" if moderator else "You can send:"]
        lines += [f"{s.usage} — {s.help}" for s in COMMANDS if moderator or s.anyone]
    return pack_lines(lines, max_chars=max_chars, prefix=prefix)


def render(cmd: Command) -> str:
    """`cmd` as the canonical text that `parse_line` reads back into an equal value."""
    words = [_BY_KIND[type(cmd)].name]
    for f in dataclasses.fields(cmd):
        value = getattr(cmd, f.name)
        values = value if isinstance(value, tuple) else (value,)
        words += [_render_value(v) for v in values if v is not None]
    return " ".join(words)


def _render_value(value: object) -> str:
    if isinstance(value, ShortId | PostUrl):
        return _render_ref(value)
    if isinstance(value, Account):
        return value.handle
    if isinstance(value, Domain):
        return value.name
    return str(value)


def _render_ref(ref: Ref | None) -> str:
    return "ID" if ref is None else ref.id if isinstance(ref, ShortId) else ref.url


# -- parsing ----------------------------------------------------------------------------------------


def parse(text: str, *, bot_handles: Iterable[str] = ()) -> list[Parsed]:
    """Every command in a DM's plain text, one per line; `[Unknown("")]` when there is none."""
    mentions = _bot_mentions(bot_handles)
    results: list[Parsed] = []
    for line in text.splitlines():
        parsed = _parse_line(line, mentions)
        if parsed is None:
            continue
        if len(results) == MAX_COMMANDS:
            message = f"at most {MAX_COMMANDS} commands per message; the rest were not read"
            results.append(UsageError(None, message, None))
            break
        results.append(parsed)
    return results or [Unknown("")]


def parse_line(line: str, *, bot_handles: Iterable[str] = ()) -> Parsed | None:
    """One line as a command, usage error or unknown word; None for a blank, quoted or mention-only line."""
    return _parse_line(line, _bot_mentions(bot_handles))


_INVISIBLE = str.maketrans("", "", "\u200b\u2060\ufeff")


def _parse_line(line: str, bot_mentions: frozenset[str]) -> Parsed | None:
    words = line.translate(_INVISIBLE).split()
    if not words or words[0].startswith(">"):
        return None
    first = next((i for i, w in enumerate(words) if not w.startswith("@")), len(words))
    words = [w for w in words[first:] if not (w.startswith("@") and _mention_key(w) in bot_mentions)]
    if not words or words[0].startswith(">"):
        return None
    spec = None
    if len(words) > 1:
        spec = _BY_WORD.get(f"{_word(words[0])} {_word(words[1])}")
    if spec is not None:
        args = words[2:]
    else:
        spec, args = _BY_WORD.get(_word(words[0])), words[1:]
    if spec is None:
        return Unknown(words[0][:64])
    try:
        return spec.parse(args)
    except CommandError as error:
        return UsageError(spec.name, f"{spec.name} {error.message}", spec.usage)


def _word(text: str) -> str:
    text = text.strip().lower()
    text = text[1:] if text[:1] in ("/", "!") else text
    return text.rstrip(".:!")


def _mention_key(token: str) -> str:
    return norm_acct(token).rstrip(PUNCT)


def _bot_mentions(handles: Iterable[str]) -> frozenset[str]:
    keys: set[str] = set()
    for handle in handles:
        key = _mention_key(handle.strip())
        keys |= {key, key.partition("@")[0]} if key else set()
    return frozenset(keys)


def _reason(words: list[str]) -> str | None:
    text = " ".join(re.sub(r"[\x00-\x1f\x7f-\x9f]", " ", " ".join(words)).split()).lstrip("-–—: ")
    if len(text) > MAX_REASON:
        raise CommandError(f"reason is {len(text)} characters long; at most {MAX_REASON}")
    return text or None
