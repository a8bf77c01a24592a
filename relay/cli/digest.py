"""`relay digest --preview -c relay.toml`: print the next weekly digest as the bot would post it.

Reads the state file read-only (safe while the relay runs) and the home instance's public
`/api/v2/instance` for its `max_characters`; posts nothing. The period shown is the one due now
if there is one, else the one that ends at the next scheduled moment, with what it holds so far.
"""

from __future__ import annotations

import argparse
from typing import Any

import requests

from relay import REQUEST_TIMEOUT, USER_AGENT
from relay.config.load import Config, add_config_option, load_config
from relay.core.digest import DigestFacts, Period, upcoming_period
from relay.moderation.notices import MASTODON_MAX_CHARS, status_length
from relay.runtime.digest import digest_clock, facts, max_characters
from relay.runtime.digest_text import digest_parts
from relay.store.store import Store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser, help="relay.toml (default: ./relay.toml)")
    parser.add_argument(
        "--preview",
        action="store_true",
        required=True,
        help="print the next digest without posting it (`relay run` posts it when [digest] enabled = true)",
    )


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    digest = config.digest
    now = digest_clock()()
    if config.state.is_file():
        with Store.open(config.state, readonly=True) as store:
            latest = store.digests.latest()
            period = upcoming_period(digest.schedule, now, latest.period_end if latest else None)
            said = facts(store, period)
    else:
        period = upcoming_period(digest.schedule, now, None)
        said = DigestFacts(period)
    max_chars, note = _max_characters(config)
    print(_heading(config, period, now))
    if note:
        print(note)
    parts = digest_parts(said, config.hashtags, digest.zone, max_chars=max_chars)
    if not parts:
        print(
            "\nNothing to say for this period so far (no post boosted, nobody new): nothing would be posted."
        )
        return 0
    for number, part in enumerate(parts, start=1):
        print(f"\n--- status {number} of {len(parts)} ({status_length(part)} of {max_chars} characters) ---")
        print(part)
    return 0


def _heading(config: Config, period: Period, now: Any) -> str:
    digest = config.digest
    zone = digest.zone
    start, end = (f"{t.astimezone(zone):%a %d %b %Y %H:%M}" for t in (period.start, period.end))
    state = "enabled" if digest.enabled else "off ([digest] enabled = false): `relay run` will not post it"
    return (
        f"Weekly digest {state}.\n"
        f"Period: {start} to {end} ({digest.timezone}),"
        f" {'due now' if period.end <= now else 'so far'}; visibility {digest.visibility}."
    )


def _max_characters(config: Config) -> tuple[int, str | None]:
    """The home instance's status length limit, and a note when it could not be read."""
    try:
        response = requests.get(
            f"{config.home.url}/api/v2/instance", timeout=REQUEST_TIMEOUT, headers={"User-Agent": USER_AGENT}
        )
        response.raise_for_status()
        return max_characters(response.json()), None
    except (requests.RequestException, ValueError) as exc:
        return MASTODON_MAX_CHARS, (
            f"(could not read {config.home.host}'s character limit: {type(exc).__name__};"
            f" using Mastodon's default {MASTODON_MAX_CHARS})"
        )
