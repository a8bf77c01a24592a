"""Federation between the instances of one Fediverse: push on write, fetch on resolve, partitions.

A public or unlisted status is copied to every peer at once; private and direct ones only to
instances with a mentioned account (and, for private, a follower). ``partition(a, b)`` stops the
push between two instances; ``fetch_status`` (``/api/v2/search?resolve=true``) still works, as
fetching by URL does on the real fediverse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import structlog

from relay.sandbox.model import Account, Status

if TYPE_CHECKING:
    from relay.sandbox.state import InstanceState

log = structlog.get_logger()


class Network:
    def __init__(self) -> None:
        self.instances: dict[str, InstanceState] = {}
        self._partitions: set[frozenset[str]] = set()

    def add(self, state: InstanceState) -> None:
        self.instances[state.domain] = state

    def partition(self, a: str, b: str) -> None:
        self._partitions.add(frozenset((a, b)))

    def heal(self, a: str, b: str) -> None:
        self._partitions.discard(frozenset((a, b)))

    def connected(self, a: InstanceState, b: InstanceState) -> bool:
        return frozenset((a.domain, b.domain)) not in self._partitions

    def _origin_of(self, acc: Account) -> InstanceState | None:
        return self.instances.get(urlsplit(acc.uri).netloc)

    def _push_targets(self, origin: InstanceState, st: Status) -> list[InstanceState]:
        peers = [p for p in self.instances.values() if p is not origin and self.connected(origin, p)]
        if st.visibility in ("public", "unlisted"):
            return peers
        wanted = {self._origin_of(m) for m in st.mentions}
        if st.visibility == "private":
            wanted |= {self._origin_of(f) for f in origin.followers_of(st.account)}
        return [p for p in peers if p in wanted]

    def deliver_create(self, origin: InstanceState, st: Status) -> None:
        for peer in self._push_targets(origin, st):
            copy = peer.import_status(st)
            log.debug("sandbox.federated", origin=origin.name, peer=peer.name, id=copy.id)

    def deliver_update(self, origin: InstanceState, st: Status) -> None:
        for peer in self._push_targets(origin, st):
            peer.apply_remote_edit(st)

    def deliver_delete(self, origin: InstanceState, st: Status) -> None:
        for peer in self._push_targets(origin, st):
            peer.apply_remote_delete(st.uri)

    def deliver_follow(self, origin: InstanceState, follower: Account, target: Account) -> None:
        home = self._origin_of(target)
        if home is None or not self.connected(origin, home):
            return
        local_target = home.account_by_uri(target.uri)
        if local_target is not None:
            home.follows.add((home.ensure_copy(follower).id, local_target.id))
            home.notify(local_target, "follow", home.ensure_copy(follower), None)

    def lookup_account(self, domain: str, username: str) -> Account | None:
        peer = self.instances.get(domain)
        return None if peer is None else peer.local_account(username)

    def fetch_status(self, requester: InstanceState, url: str) -> Status | None:
        """Resolve a peer's status URL or URI into a local copy on ``requester``."""
        peer = self.instances.get(urlsplit(url).netloc)
        if peer is None or peer is requester:
            return None
        origin = peer.status_by_url(url)
        if origin is None or not origin.local or origin.reblog is not None:
            return None
        if origin.visibility not in ("public", "unlisted"):
            return None
        if origin.in_reply_to is not None and requester.status_by_uri(origin.in_reply_to.uri) is None:
            self.fetch_status(requester, origin.in_reply_to.uri)
        log.info("sandbox.fetched", requester=requester.name, uri=origin.uri)
        return requester.import_status(origin)
