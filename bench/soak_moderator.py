"""The soak's moderator: reads the bot's hold notices over the Mastodon API and answers them by DM.

Short ids come only from what the bot sent (a single hold notice, `Held for review: h12` with the
post's link, or a digest's `h12 author link` lines), as a moderator would read them; the answer
(`approve h12 h14`, `reject h13 ...`) goes a few steps later, drawn from the seed, or at once at
the end of the run.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from mastodon import Mastodon
from soak_oracle import APPROVE, HOLD, REJECT, Planned

from relay.core.dm import dm_text

NOTICE = re.compile(r"Held for review: (h\d+)")
DIGEST_LINE = re.compile(r"^(h\d+)\b.*?(https?://\S+)")
URL = re.compile(r"https?://[^\s“”]+")


class Moderator:
    def __init__(self, api: Mastodon, bot_uri: str, bot_acct: str, rng: random.Random) -> None:
        self.api = api
        self.bot_uri = bot_uri
        self.bot_acct = bot_acct
        self.rng = rng
        self.notices: dict[str, tuple[str, int]] = {}  # uri -> short id, step it may be answered at
        self.sent: list[str] = []  # the DMs sent (status ids on the moderator's instance)
        self._cursor: str | None = None

    def turn(
        self, posts: Iterable[Planned], by_url: Mapping[str, Planned], step: int, *, final: bool
    ) -> None:
        """Read the bot's new DMs, and answer the holds whose turn has come (all of them if `final`)."""
        self._read(by_url, step)
        due: dict[str, list[str]] = {APPROVE: [], REJECT: []}
        for post in posts:
            if post.kind != HOLD or post.decision is None or post.decided_at is not None:
                continue
            notice = self.notices.get(post.uri)
            if notice is None or (not final and step < notice[1]):
                continue
            due[post.decision].append(notice[0])
            post.decided_at = datetime.now(UTC)  # before the DM: it may be handled at once
        if due[APPROVE]:
            self._dm("approve " + " ".join(due[APPROVE]))
        for short_id in due[REJECT]:
            self._dm(f"reject {short_id} not for this feed")

    def _dm(self, text: str) -> None:
        status = self.api.status_post(f"@{self.bot_acct} {text}", visibility="direct")
        self.sent.append(str(status["id"]))

    def _read(self, by_url: Mapping[str, Planned], step: int) -> None:
        while True:
            page = self.api.notifications(types=["mention"], min_id=self._cursor, limit=80)
            if not page:
                return
            self._cursor = str(max(int(n["id"]) for n in page))
            for note in page:
                if note["account"]["uri"] == self.bot_uri:
                    self._parse(dm_text(note["status"]["content"]), by_url, step)

    def _parse(self, text: str, by_url: Mapping[str, Planned], step: int) -> None:
        found: list[tuple[str, str]] = []
        single = NOTICE.search(text)
        if single is not None:
            found += [(single.group(1), url) for url in URL.findall(text)]
        elif "for review" in text:
            found += [(m[1], m[2]) for line in text.splitlines() if (m := DIGEST_LINE.match(line))]
        for short_id, url in found:
            post = by_url.get(url.rstrip(".,;:)"))
            if post is not None and post.uri not in self.notices:
                self.notices[post.uri] = (short_id, step + self.rng.randint(0, 4))
