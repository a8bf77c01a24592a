"""The demo's people on the sandbox fediverse, and the relay.toml the demo relay runs with.

Three instances: `home` (the booster account and the moderator), `remote` (streamed with a reader
account's token, as an admin would set it up) and `third` (no token: polled, like an instance that
shares its public tag timeline). Everyone posts over HTTP with Mastodon.py, as a real client would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mastodon import Mastodon

from relay.config.credentials import write_token_file
from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.sources.client import mastodon_client

HASHTAG = "TherapistsConnect"
INSTANCES = ("home", "remote", "third")
HEARTBEAT = 0.5  # seconds between the sandbox's stream heartbeats: a stall is noticed quickly
READ_TIMEOUT = 5.0  # [streams] read_timeout: ten missed heartbeats
POLL_INTERVAL = 0.5  # [streams] poll_interval for `third`
HOLD_WORDS = ("workshop", "discount")  # promotion: a moderator decides
REJECT_WORDS = ("crypto",)  # the spammer's word


@dataclass(frozen=True, slots=True)
class Person:
    """One seeded account: who they are in the story and on which instance."""

    username: str
    instance: str
    role: str
    display_name: str
    note: str = ""
    bot: bool = False
    discoverable: bool = False  # may be featured in Mastodon Collections (the directory's)


PEOPLE: tuple[Person, ...] = (
    Person(
        "relaybot",
        "home",
        "the booster account",
        "TherapistsConnect relay",
        "I boost #TherapistsConnect posts. Moderators steer me by direct message.",
        bot=True,
    ),
    Person("alice", "home", "therapist", "Alice Moreau", "Couples therapist in Lyon."),
    Person("maya", "home", "moderator", "Maya Okafor", "Clinical psychologist, moderates the relay."),
    Person("fran", "home", "follower of the bot", "Fran Berg", "Follows the relay to read the feed."),
    Person("bob", "remote", "therapist", "Bob Lindqvist", "Psychotherapist in Leeds."),
    Person("dana", "remote", "therapist", "Dana Whitfield", "Art therapist.", discoverable=True),
    Person("evan", "remote", "coach selling a course", "Evan Sharp", "Life coach. Courses and more."),
    Person("quickcash", "remote", "spammer", "Quick Cash", "Get rich with crypto!"),
    Person("reader", "remote", "the relay's reader on remote", "Relay reader"),
    Person("chidi", "third", "therapist", "Chidi Eze", "Trauma therapist in Lagos."),
    Person(
        "nora",
        "third",
        "author with #nobot in the bio",
        "Nora Castillo",
        "Counselling psychologist. Please do not boost my posts #nobot",
    ),
    Person("digest", "third", "bot account", "Therapy News Digest", "Automated digest.", bot=True),
)


@dataclass
class Cast:
    """The seeded accounts, by username, with a Mastodon.py client each (made on first use)."""

    fed: Fediverse
    people: dict[str, Person]
    accounts: dict[str, SeededAccount]
    anchor: str | None = None  # the URL of the anchor post (relay.toml's [[anchors]]), if posted
    _clients: dict[str, Mastodon] = field(default_factory=dict)

    def instance(self, username: str) -> Instance:
        return self.fed[self.people[username].instance]

    def acct(self, username: str) -> str:
        return self.accounts[username].acct

    def client(self, username: str) -> Mastodon:
        if username not in self._clients:
            self._clients[username] = mastodon_client(
                self.instance(username).url, self.accounts[username].token, timeout=10
            )
        return self._clients[username]

    @property
    def bot(self) -> SeededAccount:
        return self.accounts["relaybot"]

    def instance_name(self, host: str) -> str:
        """`home` for home's host:port, as the relay's log names a source."""
        return next((i.name for i in self.fed if i.domain == host), host)

    def original(self, uri: str) -> tuple[str, datetime] | None:
        """The text and creation time of the status `uri` on its author's instance (None: gone)."""
        for instance in self.fed:
            with instance.lock:
                status = instance.state.status_by_uri(uri)
                if status is not None and status.local:
                    return status.text, status.created_at
        return None


ANCHOR_BY = "dana"  # posts the anchor: the post that started it all, whose replies are all boosted
ANCHOR_TEXT = "Who are you, where are you, what do you do? Reply here: the relay shares every reply."


def seed(fed: Fediverse, people: tuple[Person, ...] = PEOPLE) -> Cast:
    """Create every account. `fran` follows the bot, as the relay's readers do; so do the moderator,
    Bob and Dana, so that the bot's DMs to them are not filtered away as unsolicited. Dana posts the
    anchor post (without the hashtag) before the relay starts."""
    accounts = {
        p.username: fed[p.instance].create_account(
            p.username, display_name=p.display_name, note=p.note, bot=p.bot, indexable=p.discoverable
        )
        for p in people
    }
    cast = Cast(fed, {p.username: p for p in people}, accounts)
    for username in ("fran", "maya", "bob", "dana"):
        fed[cast.people[username].instance].follow(accounts[username], cast.acct("relaybot"))
    if ANCHOR_BY in accounts:
        cast.anchor = str(cast.client(ANCHOR_BY).status_post(ANCHOR_TEXT)["url"])
    return cast


# -- the demo relay.toml --------------------------------------------------------------------------

SABOTAGE: Mapping[str, tuple[str, str]] = {
    # name: (what it breaks, the TOML appended to the demo's relay.toml)
    "booster": ("the booster only pretends ([booster] dry_run = true)", "[booster]\ndry_run = true\n"),
    "consent": (
        "#nobot is ignored ([rules.consent] refuse_tags = [])",
        "[rules.consent]\nrefuse_tags = []\n",
    ),
}


def _toml_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def config_text(cast: Cast, *, sabotage: str | None = None) -> str:
    """The demo's relay.toml: every key as in the documented relay.toml, with short timeouts."""
    fed = cast.fed
    lines = [
        "# Written by `relay demo` for a loopback sandbox fediverse; the keys are those of relay.toml.",
        f'hashtags = ["{HASHTAG}"]',
        'state = "relay.sqlite3"',
        "",
        "[home]  # the booster account's instance: streamed with its token",
        f'url = "{fed["home"].url}"',
        'token_file = "home.token"',
        "",
        "[[sources]]  # streamed with the reader account's token",
        f'url = "{fed["remote"].url}"',
        'token_file = "remote.token"',
        "",
        "[[sources]]  # no token: its public tag timeline is polled",
        f'url = "{fed["third"].url}"',
        "",
        "[moderation]",
        f'moderators = ["{cast.acct("maya")}"]',
        '# "open": a post that passes every rule is boosted at once; hold rules still send posts',
        "# to the moderators, and reject rules still reject.",
        'mode = "open"',
        '# "accept": the bot takes DMs from anyone (authors send `optout`), not only from moderators.',
        'dm_policy = "accept"',
        "digest_interval = 0  # one DM per held post, at once",
        "",
        "[directory]  # people who DM the bot `join`: a page, a follow-import CSV, a Collection",
        'html_dir = "site"',
        "collections_refresh_seconds = 1",
        "",
        *(
            [
                "[[anchors]]  # every public reply to Dana's first post is boosted, hashtag or not",
                f'url = "{cast.anchor}"',
                'replies = "direct"',
                f"interval = {POLL_INTERVAL}",
                "",
            ]
            if cast.anchor
            else []
        ),
        "[rules.keywords]",
        f"reject = {_toml_list(REJECT_WORDS)}",
        f"hold = {_toml_list(HOLD_WORDS)}",
        "",
        "[streams]  # short, for a sandbox that beats every half second",
        f"read_timeout = {READ_TIMEOUT}",
        f"poll_interval = {POLL_INTERVAL}",
        "",
        "[log]",
        'level = "info"',
        "",
    ]
    text = "\n".join(lines)
    if sabotage is not None:
        what, toml = SABOTAGE[sabotage]
        text += f"\n# Sabotaged on purpose (relay demo --sabotage {sabotage}): {what}.\n{toml}"
    return text


def write_config(folder: Path, cast: Cast, *, sabotage: str | None = None) -> Path:
    """Write relay.toml and the two token files (0600) into `folder`; return the config's path."""
    write_token_file(folder / "home.token", cast.bot.token)
    write_token_file(folder / "remote.token", cast.accounts["reader"].token)
    path = folder / "relay.toml"
    path.write_text(config_text(cast, sabotage=sabotage), encoding="utf-8")
    return path
