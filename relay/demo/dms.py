"""Direct messages between the cast and the bot, over HTTP as a phone app would send and read them.

A person DMs the bot by posting a `direct` status that mentions it; they read the bot's DMs in
their mention notifications (they follow the bot, so its DMs are not filtered away).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relay.core.dm import dm_text
from relay.demo.cast import Cast

POLL = 0.05  # seconds between two reads of a person's notifications while waiting for a DM


@dataclass(frozen=True, slots=True)
class Dm:
    """One direct message, as its recipient's instance shows it."""

    id: str
    text: str  # plain text, the leading mentions included
    in_reply_to_id: str | None
    sent_at: datetime

    @property
    def body(self) -> str:
        """The text without its leading @mentions."""
        words = self.text.split()
        while words and words[0].startswith("@"):
            words.pop(0)
        return " ".join(words)


def bot_handle(cast: Cast) -> str:
    return cast.acct("relaybot")


def send(cast: Cast, who: str, command: str, *, in_reply_to: Dm | None = None) -> Dm:
    """`who` DMs the bot: `@relaybot@HOME command` with direct visibility."""
    text = f"@{bot_handle(cast)} {command}"
    status = cast.client(who).status_post(
        text, visibility="direct", in_reply_to_id=None if in_reply_to is None else in_reply_to.id
    )
    reply = None if in_reply_to is None else in_reply_to.id
    return Dm(str(status["id"]), text, reply, status["created_at"])


def from_bot(cast: Cast, who: str) -> list[Dm]:
    """The bot's messages to `who`, oldest first."""
    bot_uri = cast.bot.uri
    notes = cast.client(who).notifications(types=["mention"], limit=80)
    found = [_dm(n["status"]) for n in notes if n["account"]["uri"] == bot_uri and n.get("status")]
    return sorted(found, key=lambda d: int(d.id))


def wait_dm(
    cast: Cast,
    who: str,
    contains: tuple[str, ...],
    *,
    in_reply_to: Dm | None = None,
    timeout: float,
    abort: threading.Event,
) -> Dm | None:
    """The bot's first DM to `who` containing one of `contains` (answering `in_reply_to`, if given),
    or None at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        for dm in from_bot(cast, who):
            if any(text in dm.text for text in contains) and (
                in_reply_to is None or dm.in_reply_to_id == in_reply_to.id
            ):
                return dm
        if time.monotonic() > deadline or abort.wait(POLL):
            return None


def _dm(status: Any) -> Dm:
    reply = status.get("in_reply_to_id")
    text = dm_text(str(status["content"]))
    return Dm(str(status["id"]), text, None if reply is None else str(reply), status["created_at"])
