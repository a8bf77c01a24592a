"""The directory as `relay run` publishes it: introductions filled in, the page and CSV rewritten
when the members change, and the bot's Mastodon Collections kept in step.

`Directory.tick()` runs on the main thread (the store's and the home client's thread), at most
every `TICK` seconds:

1. introductions: a member without one gets their first post the relay boosted (its text read
   from the home instance); one whose introduction was deleted or unboosted loses it;
2. when what the directory shows changed: `[directory] html_dir` gets `index.html` and
   `directory.csv` (each written to a temporary file and renamed: a reader never sees half);
3. Collections, where the home instance has the API (`relay.runtime.collections`): members who
   left are removed, new members added (a new Collection when the last is full), and every
   `[directory] collections_refresh_seconds` each item's consent state is read again. Where the
   home instance has no Collections API (or the token may not use it) this is said once, at
   warning, with what to do.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from mastodon import Mastodon, MastodonError

from relay.config.load import Config
from relay.core.directory import CSV_NAME, PAGE_NAME, Entry, follow_csv, render_page
from relay.runtime.collections import (
    MAX_ITEMS,
    CollectionsClient,
    CollectionsError,
    has_collections,
)
from relay.store.records import Member
from relay.store.store import Store

log = structlog.get_logger()

TICK = 1.0  # seconds between two looks at the directory
INTROS_PER_TICK = 5  # first boosts read from the home instance per look (each one request)
NOT_ADDED = "not-added"  # our mark for a member the home instance would not feature (422): retried


def entries(members: Iterable[Member]) -> list[Entry]:
    """The page's entries for `members`, in their order."""
    return [
        Entry(
            acct=m.acct,
            display_name=m.display_name,
            profile_url=m.url,
            intro_html=m.intro_html,
            intro_url=m.intro_url or m.intro_uri,
            bio_html=m.note,
            joined=m.joined_at,
        )
        for m in members
    ]


def write_files(folder: Path, title: str, store: Store, now: datetime) -> None:
    """Write the page and the CSV of the members listed now into `folder` (created if missing)."""
    members = store.members.listed()
    folder.mkdir(parents=True, exist_ok=True)
    urls = [url for _, url, _ in store.members.collections() if url]
    page = render_page(title, entries(members), generated=now, collections=urls)
    _replace(folder / CSV_NAME, follow_csv(m.acct for m in members))
    _replace(folder / PAGE_NAME, page)


def _replace(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)  # a web server reads it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Directory:
    """The running relay's directory publisher (main thread only)."""

    def __init__(
        self,
        api: Mastodon,
        store: Store,
        config: Config,
        *,
        instance: Mapping[str, Any],
        collections: CollectionsClient | None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api = api
        self.store = store
        self.config = config.directory
        self.title = config.directory_title
        self.tag = config.hashtags[0]
        self._clock = clock
        self._now = now
        self._next = 0.0
        self._next_refresh = 0.0
        self._refresh_every = config.directory.collections_refresh_seconds
        self._shown: str | None = None  # what the page shows, as a digest: rewritten when it changes
        self._synced: str | None = None  # the membership the Collections were last brought to
        self._failed_intros: set[str] = set()
        self.collections = collections
        if collections is not None and config.directory.enabled and config.directory.collections:
            if not has_collections(instance):
                self._no_collections("the home instance has no Collections API (Mastodon 4.6 and later)")
        else:
            self.collections = None

    def _no_collections(self, why: str) -> None:
        log.warning(
            "directory.collections_unavailable",
            reason=why,
            fix="the directory is still published as the page and the CSV; upgrade the home instance"
            " to Mastodon 4.6+ for Collections, or set [directory] collections = false to silence this",
        )
        self.collections = None

    def tick(self) -> None:
        if not self.config.enabled or self._clock() < self._next:
            return
        self._next = self._clock() + TICK
        self._fill_intros()
        members = self.store.members.listed()
        shown = _digest(
            (m.acct, m.display_name, m.note, m.url, m.intro_html, m.intro_url, m.joined_at) for m in members
        )
        if self.config.html_dir is not None and shown != self._shown:
            write_files(self.config.html_dir, self.title, self.store, self._now())
            log.info("directory.written", folder=str(self.config.html_dir), members=len(members))
            self._shown = shown
        if self.collections is not None:
            self._sync_collections(members)

    # -- introductions ----------------------------------------------------------------------------

    def _fill_intros(self) -> None:
        store = self.store
        for member in store.members.listed():
            if member.intro_uri is not None and store.posts.is_retracted(member.intro_uri):
                store.members.drop_intro_of(member.intro_uri)
        firsts = [f for f in store.members.first_boosts() if f.uri not in self._failed_intros]
        for first in firsts[:INTROS_PER_TICK]:
            try:
                status = self.api.status(first.local_id)
            except MastodonError as exc:
                log.info(
                    "directory.intro_unreadable", acct=first.acct, uri=first.uri, error=type(exc).__name__
                )
                self._failed_intros.add(first.uri)
                continue
            html = str(status.get("content") or "")
            store.members.set_intro(first.acct, first.uri, first.url, html, chosen=False, actor="relay")

    # -- Collections ------------------------------------------------------------------------------

    def _sync_collections(self, members: list[Member]) -> None:
        assert self.collections is not None
        refresh = self._clock() >= self._next_refresh
        wanted = _digest((m.acct, m.item_id, m.item_state) for m in members)
        gone = self.store.members.unlisted_with_items()
        if not refresh and not gone and wanted == self._synced:
            return
        try:
            for member in gone:
                self._unfeature(member)
            if refresh:
                self._next_refresh = self._clock() + self._refresh_every
                self._refresh()
            for member in self.store.members.listed():
                if member.account_id and member.item_id is None and member.item_state in (None, NOT_ADDED):
                    if member.item_state == NOT_ADDED and not refresh:
                        continue
                    self._feature(member)
        except CollectionsError as exc:
            if exc.status in (404, 410):
                self._no_collections(f"the home instance answered {exc}")
                return
            if exc.status in (401, 403):
                self._no_collections(
                    f"the home instance answered {exc}: the bot's token needs the scopes"
                    " read:collections and write:collections"
                )
                return
            log.warning("directory.collections_failed", error=str(exc), retry_in=self._refresh_every)
            self._next_refresh = self._clock() + self._refresh_every
        self._synced = _digest((m.acct, m.item_id, m.item_state) for m in self.store.members.listed())

    def _unfeature(self, member: Member) -> None:
        assert self.collections is not None
        assert member.collection_id
        assert member.item_id
        try:
            self.collections.remove(member.collection_id, member.item_id)
        except CollectionsError as exc:
            if exc.status != 404:
                raise
        self.store.members.set_item(member.acct, None, None, None)
        log.info("directory.unfeatured", acct=member.acct, collection=member.collection_id)

    def _feature(self, member: Member) -> None:
        assert self.collections is not None
        assert member.account_id
        collection_id = self._collection_with_room()
        try:
            item = self.collections.add(collection_id, member.account_id)
        except CollectionsError as exc:
            if exc.status != 422:
                raise
            # The account does not allow being featured (feature_approval), or is gone: try later.
            log.info("directory.not_featured", acct=member.acct, reason=str(exc))
            self.store.members.set_item(member.acct, None, None, NOT_ADDED)
            return
        self.store.members.set_item(member.acct, collection_id, item.id, item.state)
        log.info("directory.featured", acct=member.acct, collection=collection_id, state=item.state)

    def _collection_with_room(self) -> str:
        assert self.collections is not None
        known = self.store.members.collections()
        for collection_id, _, count in known:
            if count < MAX_ITEMS:
                return collection_id
        n = len(known) + 1
        name = self.title if n == 1 else f"{self.title[: 40 - len(f' {n}')]} {n}"
        description = f"People of #{self.tag} who asked to be listed"
        created = self.collections.create(name, description, self.tag)
        self.store.members.add_collection(created.id, created.url)
        log.info("directory.collection_created", collection=created.id, url=created.url)
        return created.id

    def _refresh(self) -> None:
        """Read each Collection's items again: the members' consent states, items gone, and items
        the store does not know of (a stop between adding one and recording it): a listed member's
        is adopted, anyone else's removed (the directory's Collections hold its members only)."""
        assert self.collections is not None
        listed = self.store.members.listed()
        by_item = {m.item_id: m for m in listed if m.item_id}
        by_account = {m.account_id: m for m in listed if m.account_id and not m.item_id}
        for collection_id, _, _ in self.store.members.collections():
            try:
                collection = self.collections.get(collection_id)
            except CollectionsError as exc:
                if exc.status != 404:
                    raise
                self.store.members.drop_collection(collection_id)
                log.warning("directory.collection_gone", collection=collection_id)
                continue
            present = {item.id: item for item in collection.items}
            for item_id, member in list(by_item.items()):
                if member.collection_id != collection_id:
                    continue
                item = present.get(item_id)
                state = "revoked" if item is None else item.state
                if state != member.item_state:
                    keep = item is not None
                    self.store.members.set_item(
                        member.acct, collection_id if keep else None, item_id if keep else None, state
                    )
                    log.info("directory.item_state", acct=member.acct, state=state)
            for item in collection.items:
                if item.id in by_item:
                    continue
                owner = by_account.pop(item.account_id, None) if item.account_id else None
                if owner is not None:
                    self.store.members.set_item(owner.acct, collection_id, item.id, item.state)
                    log.info("directory.item_adopted", acct=owner.acct, state=item.state)
                else:
                    self.collections.remove(collection_id, item.id)
                    log.info("directory.item_removed", collection=collection_id, account_id=item.account_id)


def _digest(rows: Iterable[tuple[object, ...]]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(row).encode())
    return h.hexdigest()
