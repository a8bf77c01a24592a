"""PURE the relay.toml that `relay init` writes: the documented example, with the answers put in.

`derive(example, answers)` takes the text of the shipped, commented relay.toml and replaces the
values of the keys `relay init` asked for (hashtags, state, the home instance and its token file,
the moderators, the moderation and consent modes, the digest's time zone), keeping every comment,
so that the written file documents every key as the example does. The example's `[[sources]]` is
commented out (a new relay watches its home instance; more are added by hand). A key the example
no longer has is an error, not a silent omission: `relay init` and the example change together.

`paths(name, folder, state_folder)` is where each file of a relay named `name` goes: one name, one
configuration, one token, one state file, so that two relays side by side never share a file.

No I/O: the caller reads the example and writes the result (after `relay.config.load` accepted it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
"""A relay's name: a systemd instance name (`relay@NAME`) and a file name, so plain characters."""

SYSTEMD_FOLDER = PurePath("/etc/relay")  # where relay@.service reads NAME.toml and NAME.home.token
SYSTEMD_STATE = PurePath("/var/lib/relay")  # its StateDirectory

_KEY = re.compile(r'^(?P<key>[A-Za-z_]+)(?P<eq>\s*=\s*)(?P<value>"[^"]*"|\[[^\]]*\]|\S+)(?P<rest>.*)$')
_TABLE = re.compile(r"^\[{1,2}(?P<name>[^\]]+)\]{1,2}")


@dataclass(frozen=True, slots=True)
class Paths:
    """The files of one relay."""

    config: PurePath  # FOLDER/NAME.toml
    token: PurePath  # FOLDER/NAME.home.token (the unit's LoadCredential= expects this name)
    state: PurePath  # STATE_FOLDER/NAME.sqlite3


def paths(name: str, folder: PurePath, state_folder: PurePath | None = None) -> Paths:
    """Where the files of the relay `name` go: `/etc/relay/NAME.toml`, `/etc/relay/NAME.home.token`
    and `/var/lib/relay/NAME.sqlite3` for the systemd unit; in another folder, all three there
    unless `state_folder` says otherwise."""
    if not NAME_RE.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a relay name (a-z, 0-9, '-' and '_', starting with a letter or digit)"
        )
    if state_folder is None:
        state_folder = SYSTEMD_STATE if folder == SYSTEMD_FOLDER else folder
    return Paths(folder / f"{name}.toml", folder / f"{name}.home.token", state_folder / f"{name}.sqlite3")


@dataclass(frozen=True, slots=True)
class Answers:
    """What `relay init` was told (or asked)."""

    name: str
    instance: str  # base URL
    hashtags: tuple[str, ...]
    moderators: tuple[str, ...]  # user@domain
    consent: str  # "opt-out" or "opt-in"
    moderation: str  # "review" or "open"
    paths: Paths
    timezone: str = "UTC"  # for [digest]: the machine's zone when it is known
    written_on: str = ""  # the date, for the header


def derive(example: str, answers: Answers) -> str:
    """The example relay.toml with `answers` put in (see the module docstring)."""
    values: dict[tuple[str, str], str] = {
        ("", "hashtags"): _list(answers.hashtags),
        ("", "state"): _str(str(answers.paths.state)),
        ("home", "url"): _str(answers.instance),
        ("home", "token_file"): _str(str(answers.paths.token)),
        ("moderation", "moderators"): _list(answers.moderators),
        ("moderation", "mode"): _str(answers.moderation),
        ("rules.consent", "mode"): _str(answers.consent),
        ("digest", "timezone"): _str(answers.timezone),
    }
    done: set[tuple[str, str]] = set()
    lines: list[str] = []
    table = ""
    in_sources = False
    for number, line in enumerate(example.splitlines()):
        if number == 0 and line.startswith("# relay.toml:"):
            continue  # "the documented example": this file is no longer that
        header = _TABLE.match(line)
        if header:
            table = header.group("name").strip()
            in_sources = line.startswith("[[sources]]")
        if in_sources:
            lines.append(line if not line.strip() or line.startswith("#") else f"# {line}")
            continue
        match = _KEY.match(line)
        if match and (table, match.group("key")) in values:
            key = (table, match.group("key"))
            done.add(key)
            lines.append(f"{match.group('key')}{match.group('eq')}{values[key]}{match.group('rest')}")
        else:
            lines.append(line)
    missing = sorted(f"{t}.{k}".lstrip(".") for t, k in values.keys() - done)
    if missing:
        raise ValueError(f"the example relay.toml has no {', '.join(missing)}: relay init needs updating")
    tags = " ".join(f"#{t}" for t in answers.hashtags)
    when = f" on {answers.written_on}" if answers.written_on else ""
    intro = [
        f"# {answers.name}: written by `relay init`{when} for {tags} on {answers.instance}.",
        f"# Under systemd: relay@{answers.name}. Check it with `relay check -c {answers.paths.config}`.",
    ]
    return "\n".join(intro + lines) + "\n"


def _str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_str(v) for v in values) + "]"


def systemd_commands(name: str, unit_file: str | None) -> list[str]:
    """The two commands that start the relay `name` under systemd as an instance of relay@.service."""
    install = f"cp {unit_file or 'systemd/relay@.service'} /etc/systemd/system/ && systemctl daemon-reload"
    return [install, f"systemctl enable --now relay@{name}"]


def defaults(hashtags: Sequence[str]) -> Mapping[str, str]:
    """What `relay init` proposes when asking: a name from the first hashtag."""
    first = hashtags[0].lower() if hashtags else "relay"
    name = re.sub(r"[^a-z0-9_-]", "", first)[:64] or "relay"
    return {"name": name}
