"""`relay init`: a new community's relay in five minutes, by questions or by flags.

Asks for (or takes as flags) the home instance, the hashtags, the moderators, the consent mode and
the relay's name; logs in as the bot (`relay.cli.login`: the OAuth code flow, or a token already
written for this name is reused); writes a commented relay.toml derived from the documented example
(`relay.cli.initconfig`), which `relay.config.load` must accept before it is written; runs
`relay check` on it; and prints the two commands that start it under systemd as `relay@NAME`.

Files, by name (so that a second relay beside the first never shares one): `DIR/NAME.toml`,
`DIR/NAME.home.token` (+ `.app`, the app registration) and the state file, by default
`/var/lib/relay/NAME.sqlite3` when DIR is `/etc/relay` (the unit's layout), else `DIR/NAME.sqlite3`.
An existing configuration of that name is never overwritten without `--force`.

`--non-interactive` (`--yes`) asks nothing: every value must come as a flag, and the login needs
`--code` (the first run without it prints the page to open and exits 2; the app registration is
kept, so a second run with `--code=CODE` finishes) or a token already written for the name.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path, PurePath
from typing import TextIO

from mastodon import MastodonError

from relay.cli import check, login
from relay.cli.initconfig import SYSTEMD_FOLDER, Answers, defaults, derive, paths, systemd_commands
from relay.config.load import parse_config
from relay.config.rules import full_handle
from relay.errors import ConfigError, CredentialsError
from relay.moderation.lookup import find_account

CONSENT = {"optout": "opt-out", "optin": "opt-in", "opt-out": "opt-out", "opt-in": "opt-in"}
MODERATION = ("review", "open")
EXAMPLE_NAME = "relay.toml"


def example_paths() -> list[Path]:
    """Where the documented example may be: installed beside the package's data (`share/relay`),
    or at the top of a source checkout."""
    return [
        Path(sys.prefix) / "share" / "relay" / EXAMPLE_NAME,
        Path(__file__).resolve().parents[2] / EXAMPLE_NAME,
    ]


def unit_path() -> str | None:
    """The installed relay@.service, if it can be found."""
    for path in (
        Path(sys.prefix) / "share" / "relay" / "relay@.service",
        Path(__file__).resolve().parents[2] / "systemd" / "relay@.service",
    ):
        if path.is_file():
            return str(path)
    return None


def read_example() -> str:
    for path in example_paths():
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise ConfigError(
        "the documented relay.toml is not installed with this relay",
        fix="reinstall hashtag-relay (it installs share/relay/relay.toml), or run it from a source checkout",
    )


def system_timezone() -> str:
    """The machine's IANA zone name when it says one (/etc/timezone, /etc/localtime's link), else UTC."""
    try:
        name = Path("/etc/timezone").read_text(encoding="utf-8").strip()
        if name:
            return name
    except OSError:
        pass
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return "UTC"
    _, found, name = target.partition("zoneinfo/")
    return name if found and name else "UTC"


class Asker:
    """Asks for what the flags did not give; in non-interactive mode, fails naming the flag."""

    def __init__(self, interactive: bool, stdin: TextIO, stdout: TextIO) -> None:
        self.interactive, self.stdin, self.stdout = interactive, stdin, stdout

    def one(self, flag: str, question: str, default: str | None = None) -> str:
        if not self.interactive:
            if default is not None:
                return default
            raise ConfigError(
                f"relay init: {flag} is needed", fix=f"pass {flag}, or run relay init without --yes"
            )
        shown = f" [{default}]" if default else ""
        while True:
            print(f"{question}{shown}: ", end="", file=self.stdout, flush=True)
            answer = self.stdin.readline()
            if not answer:  # end of input
                raise ConfigError(f"relay init: no answer for {flag}", fix=f"pass {flag}")
            answer = answer.strip() or (default or "")
            if answer:
                return answer

    def many(self, flag: str, question: str) -> list[str]:
        return [a for a in self.one(flag, f"{question} (separated by spaces)").replace(",", " ").split() if a]


def _hashtags(values: Sequence[str]) -> tuple[str, ...]:
    tags = []
    for value in values:
        tag = value.strip().lstrip("#＃")
        if not tag:
            raise ConfigError(
                f"relay init: {value!r} is not a hashtag", fix="pass --hashtag TherapistsConnect"
            )
        tags.append(tag)
    return tuple(dict.fromkeys(tags))


def _moderators(values: Sequence[str]) -> tuple[str, ...]:
    handles = []
    for value in values:
        handle = full_handle(value)
        if handle is None:
            raise ConfigError(
                f"relay init: moderator {value!r} is not a full handle user@domain",
                fix="pass --moderator alice@therapists.example (a bare name is ambiguous across instances)",
            )
        handles.append(handle)
    return tuple(dict.fromkeys(handles))


def gather(args: argparse.Namespace, ask: Asker) -> tuple[Answers, login.Instance]:
    """Every answer, from the flags or asked, validated."""
    instance = login.parse_instance(
        args.instance or ask.one("--instance", "The bot account's instance (e.g. https://therapists.example)")
    )
    hashtags = _hashtags(args.hashtag or ask.many("--hashtag", "The hashtags to boost, without #"))
    moderators = _moderators(args.moderator or ask.many("--moderator", "The moderators, as user@domain"))
    mode = args.mode or ask.one(
        "--mode", "Authors' consent: optout (boost unless they say no) or optin", "optout"
    )
    if mode not in CONSENT:
        raise ConfigError(f"relay init: --mode {mode!r}", fix="pass --mode optout or --mode optin")
    name = args.name or ask.one(
        "--name", "A name for this relay (systemd: relay@NAME)", defaults(hashtags)["name"]
    )
    folder = Path(args.dir or ask.one("--dir", "Folder for its configuration and token", str(SYSTEMD_FOLDER)))
    try:
        where = paths(name, PurePath(folder.absolute()), PurePath(args.state_dir) if args.state_dir else None)
    except ValueError as exc:
        raise ConfigError(f"relay init: --name: {exc}", fix="pass --name deaftherapists") from None
    answers = Answers(
        name=name,
        instance=instance.url,
        hashtags=hashtags,
        moderators=moderators,
        consent=CONSENT[mode],
        moderation=args.moderation,
        paths=where,
        timezone=system_timezone(),
        written_on=datetime.now(UTC).date().isoformat(),
    )
    return answers, instance


def ensure_token(
    instance: login.Instance, token_file: Path, args: argparse.Namespace, ask: Asker, out: TextIO
) -> str:
    """The bot's handle: from a working token already in `token_file`, else by logging in."""
    if token_file.is_file():
        try:
            me = login.verify(instance, token_file.read_text(encoding="utf-8").strip())
        except (MastodonError, OSError):
            me = None
        if me is not None:
            print(f"Using the token already in {token_file} (@{me}).", file=out)
            return me
    stdin = ask.stdin if ask.interactive else StringIO("")
    try:
        return login.log_in(instance, token_file, code=args.code, stdin=stdin, stdout=out)
    except CredentialsError as exc:
        if args.code is None and not ask.interactive:
            raise CredentialsError(
                "relay init: the bot must authorise the relay",
                fix="open the page above where the bot account is logged in, then run the same relay init"
                " command again with --code=CODE (the code that page shows)",
            ) from exc
        raise


def run_init(
    args: argparse.Namespace, *, stdin: TextIO, stdout: TextIO, run_check: Callable[[Path], int]
) -> int:
    ask = Asker(not args.non_interactive, stdin, stdout)
    answers, instance = gather(args, ask)
    where = answers.paths
    config_path, token_file, state = Path(where.config), Path(where.token), Path(where.state)
    if config_path.exists() and not args.force:
        raise ConfigError(
            f"relay init: {config_path} exists already",
            fix="pick another --name for a second relay, or pass --force to write it again",
        )
    text = derive(read_example(), answers)
    parse_config(tomllib.loads(text), path=config_path.absolute())  # valid, or ConfigError: nothing written
    try:
        config_path.parent.mkdir(parents=True, exist_ok=True)
        state.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"relay init: cannot create {exc.filename}: {exc.strerror}",
            fix="run it as root for /etc/relay, or pass --dir (and --state-dir) to folders you may write",
        ) from None
    acct = ensure_token(instance, token_file, args, ask, stdout)
    print(f"Logged in as @{acct}; token in {token_file} (mode 0600).", file=stdout)
    config_path.write_text(text, encoding="utf-8")
    print(f"Wrote {config_path} (every key is explained in it).", file=stdout)
    follow_moderators(instance, token_file, answers.moderators, stdout)
    print(file=stdout, flush=True)
    code = run_check(config_path)
    print(file=stdout)
    if code != 0:
        print(f"Fix what relay check says, then: relay check -c {config_path}", file=stdout)
    commands = systemd_commands(answers.name, unit_path())
    print(f"Start it under systemd, as relay@{answers.name}:", file=stdout)
    for command in commands:
        print(f"  {command}", file=stdout)
    if config_path.parent != Path(SYSTEMD_FOLDER):
        print(
            f"(relay@.service reads /etc/relay/{answers.name}.toml and /etc/relay/{answers.name}.home.token:"
            " move the files there, or point a drop-in at them: see docs/deploy.md)",
            file=stdout,
        )
    return code


def follow_moderators(
    instance: login.Instance, token_file: Path, moderators: Sequence[str], out: TextIO
) -> None:
    """Make the bot follow each moderator, as `relay run` does at start (`dm_policy = "follow"`), so
    that `relay check` sees their DMs get through (Mastodon 4.3+ filters private mentions from
    accounts the bot does not follow). What fails is said; `relay check` says the rest."""
    try:
        api = login.api_for(instance, token_file.read_text(encoding="utf-8").strip())
        domain = str(api.instance_v2()["domain"])
        for handle in moderators:
            account = find_account(api, handle, domain)
            if account is None:
                print(f"Moderator {handle} was not found on {instance.host}.", file=out)
                continue
            api.account_follow(account["id"])
            print(f"The bot follows {handle}, so that their direct messages reach it.", file=out)
    except (MastodonError, OSError, KeyError) as exc:
        print(
            f"Could not follow the moderators ({type(exc).__name__}); `relay run` tries at start.", file=out
        )


def _check(path: Path) -> int:
    namespace = argparse.Namespace(config=path, json=False, timeout=check.REQUEST_TIMEOUT)
    return check.run(namespace)


# -- the `relay init` subcommand ----------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instance", help="the bot account's instance, e.g. https://therapists.example")
    parser.add_argument("--hashtag", action="append", help="a hashtag to boost, without # (repeat for more)")
    parser.add_argument("--moderator", action="append", help="a moderator, user@domain (repeat for more)")
    parser.add_argument("--mode", choices=sorted(CONSENT), help="authors' consent: optout (default) or optin")
    parser.add_argument(
        "--moderation", choices=MODERATION, default="review", help="review every post (default) or open"
    )
    parser.add_argument(
        "--name", help="the relay's name: relay@NAME, NAME.toml (default: from the first hashtag)"
    )
    parser.add_argument("--dir", help=f"folder for NAME.toml and NAME.home.token (default: {SYSTEMD_FOLDER})")
    parser.add_argument(
        "--state-dir", help="folder for NAME.sqlite3 (default: /var/lib/relay with /etc/relay, else --dir)"
    )
    parser.add_argument(
        "--code", default=None, help="the authorisation code, when the page was opened before"
    )
    parser.add_argument(
        "--non-interactive",
        "--yes",
        "-y",
        action="store_true",
        help="ask nothing: every value from the flags",
    )
    parser.add_argument("--force", action="store_true", help="write NAME.toml even if it exists")
    parser.epilog = "exit status: 0 ready; 1 or 2 as relay check says (2: configuration or credentials)"


def run(args: argparse.Namespace) -> int:
    return run_init(args, stdin=sys.stdin, stdout=sys.stdout, run_check=_check)


def build_args(argv: Sequence[str]) -> argparse.Namespace:
    """`relay init`'s flags parsed from `argv` (for callers that run it in-process)."""
    parser = argparse.ArgumentParser(prog="relay init")
    add_arguments(parser)
    return parser.parse_args(list(argv))
