"""Recording posts in a real store the way the pipeline does: the store reports what it has about a
uri, `relay.core.dedupe.decide` decides, the store records that."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relay.core.dedupe import Arrival, decide
from relay.store.store import Store


def arrive(store: Store, uri: str, **sighting: Any) -> Arrival:
    """Record that a source delivered this version of `uri` (keywords as `Posts.record_arrival` takes
    them); return the dedupe decision it was recorded as."""
    with store.atomic():
        arrival = decide(store.posts.stored(uri), sighting.get("edited_at"))
        store.posts.record_arrival(uri, arrival, **sighting)
    return arrival


def boosted(store: Store, uri: str, acct: str, at: datetime) -> None:
    """A post of `acct` seen and boosted at `at`, as the pipeline and the booster record it."""
    arrive(store, uri, source="home", acct=acct, url=uri, edited_at=None, text_fingerprint=uri, now=at)
    store.boosts.boost_intent(uri, None, now=at)
    store.boosts.boost_done(uri, "reblog-of-" + uri, now=at)
