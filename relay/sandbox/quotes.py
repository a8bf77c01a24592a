"""Quote posts as Mastodon 4.5 does them (API version 7), on one instance and across the network.

- `POST /api/v1/statuses` with `quoted_status_id` quotes a status; `quote_approval_policy`
  ("public", "followers", "nobody"; default the author's `quote_policy`) says who may quote a new
  post. A quote of a local post is decided at once: allowed (the author themselves, anyone for
  "public", a follower for "followers") is `accepted` and the quoted author gets a `quote`
  notification; otherwise 403, as Mastodon refuses a quote its policy denies. A quote of a remote
  post is created `pending` and then decided by the quoted post's instance: `accepted` or
  `rejected`, each arriving as a `status.update` of the quoting post (the order a reader sees).
- `POST /api/v1/statuses/:id/quotes/:quoting_status_id/revoke` (the quoted author): an accepted
  quote becomes `revoked` on every instance that has the quoting post, each sending a
  `status.update` of it (Mastodon's RevokeQuoteService distributes the quoting status as updated).
- Deleting a quoted post makes each quote of it `deleted` (rendered without the quoted status), with
  a `status.update` of the quoting post. That update is this sandbox's choice: Mastodon serialises
  such a quote as `deleted`, but whether its streams announce it was not checked; the relay's
  recheck reads boosted posts back either way.
- Editing a quoted post sends each local quoter a `quoted_update` notification carrying their
  quote (not the edited post), as Mastodon's docs say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from relay.sandbox.model import Account, Quote, Status

if TYPE_CHECKING:
    from relay.sandbox.state import InstanceState

QUOTE_POLICIES = ("public", "followers", "nobody")
SHOWN = ("accepted", "blocked_account", "blocked_domain", "muted_account")  # with the quoted status


def may_quote(home: InstanceState, quoter: Account, quoted: Status) -> bool:
    """Whether `quoted`'s policy lets `quoter` quote it, decided on `home`, the quoted post's
    instance (where its author's followers are known)."""
    if quoter.uri == quoted.account.uri:
        return True
    if quoted.quote_policy == "public":
        return True
    if quoted.quote_policy == "followers":
        follower = home.account_by_uri(quoter.uri)
        return follower is not None and home.follows_account(follower, quoted.account)
    return False


def attach(state: InstanceState, author: Account, quoted: Status) -> Quote:
    """The quote a new post of `author` on `state` makes of `quoted` (raises 403/422 as Mastodon)."""
    from relay.sandbox.state import NOT_ALLOWED, SandboxError

    if quoted.reblog is not None:
        raise SandboxError(422, "Validation failed: Quoted status can't be a reblog")
    if quoted.visibility not in ("public", "unlisted") and quoted.account is not author:
        raise SandboxError(422, "Validation failed: Quoted status visibility does not allow quoting")
    if quoted.account.domain is not None:
        return Quote("pending", quoted)  # the quoted post's instance decides (`decide_remote`)
    if not may_quote(state, author, quoted):
        raise SandboxError(403, NOT_ALLOWED)
    return Quote("accepted", quoted)


def after_post(state: InstanceState, st: Status) -> None:
    """Once `st` is stored and delivered: tell the quoted author, or have a remote instance decide."""
    quote = st.quote
    if quote is None or quote.quoted is None:
        return
    if (
        quote.state == "accepted"
        and quote.quoted.account.domain is None
        and quote.quoted.account is not st.account
    ):
        state.notify(quote.quoted.account, "quote", st.account, st)
    if quote.state == "pending":
        home = _home_of(state, quote.quoted)
        original = None if home is None else home.status_by_uri(quote.quoted.uri)
        if home is None or original is None or not state.network.connected(state, home):
            return  # stays pending, as a quote whose request never got an answer
        accepted = may_quote(home, st.account, original)
        if accepted and original.account.domain is None:
            home.notify(original.account, "quote", home.ensure_copy(st.account), home.status_by_uri(st.uri))
        set_state(state, st.uri, "accepted" if accepted else "rejected")


def revoke(state: InstanceState, quoted: Status, quoting: Status) -> None:
    """The quoted author withdraws their approval of `quoting` (an accepted quote of `quoted`)."""
    from relay.sandbox.state import NOT_FOUND, SandboxError

    if quoting.quote is None or quoting.quote.quoted is not quoted:
        raise SandboxError(404, NOT_FOUND)
    if quoting.quote.state == "accepted":
        set_state(state, quoting.uri, "revoked")
    elif quoting.quote.state == "pending":
        set_state(state, quoting.uri, "rejected")


def set_state(state: InstanceState, uri: str, new: str) -> None:
    """Move the quote of the status `uri` to `new` on `state` and every instance it reaches, each
    announcing the quoting status as updated."""
    for peer in [state, *(p for p in state.network.instances.values() if p is not state)]:
        if peer is not state and not state.network.connected(state, peer):
            continue
        st = peer.status_by_uri(uri)
        if st is None or st.quote is None or st.quote.state == new:
            continue
        st.quote.state = new
        if peer.hub is not None:
            peer.hub.status_updated(st)


def quoted_deleted(state: InstanceState, gone: Status) -> None:
    """`gone` was deleted on `state`: each quote of it there is `deleted`, announced as an update."""
    for st in list(state.statuses.values()):
        if st.quote is not None and st.quote.quoted is gone:
            st.quote.quoted = None
            st.quote.state = "deleted"
            if state.hub is not None:
                state.hub.status_updated(st)


def quoted_edited(state: InstanceState, edited: Status) -> None:
    """`edited` changed on `state`: its local quoters get `quoted_update` with their quote."""
    for st in list(state.statuses.values()):
        if st.quote is not None and st.quote.quoted is edited and st.account.domain is None:
            state.notify(st.account, "quoted_update", edited.account, st)


def copy_quote(state: InstanceState, origin: Status) -> Quote | None:
    """The quote of a peer's status `origin`, as `state`'s copy of it holds it (the quoted status
    imported too)."""
    if origin.quote is None:
        return None
    quoted = origin.quote.quoted
    local = None if quoted is None else (state.status_by_uri(quoted.uri) or state.import_status(quoted))
    return Quote(origin.quote.state, local)


def render(
    state: InstanceState, st: Status, viewer: Account | None, *, shallow: bool
) -> dict[str, Any] | None:
    """The `quote` of `st`: a Quote entity (`quoted_status`), or a ShallowQuote (`quoted_status_id`)
    for a status shown inside another's quote."""
    from relay.sandbox.render import status

    quote = st.quote
    if quote is None:
        return None
    quoted = quote.quoted if quote.quoted is not None and quote.quoted.id in state.statuses else None
    name = "deleted" if quote.state == "accepted" and quoted is None else quote.state
    shown = quoted if name in SHOWN else None
    if shallow:
        return {"state": name, "quoted_status_id": None if shown is None else shown.id}
    return {
        "state": name,
        "quoted_status": None if shown is None else status(state, shown, viewer, shallow=True),
    }


def approval(state: InstanceState, st: Status, viewer: Account | None) -> dict[str, Any]:
    """`quote_approval`: who may quote `st` and what that means for `viewer` (QuoteApproval)."""
    if st.visibility in ("private", "direct"):  # as the recorded direct statuses say: nobody
        return {"automatic": [], "manual": [], "current_user": "denied"}
    automatic = {"public": ["public"], "followers": ["followers"]}.get(st.quote_policy, [])
    if viewer is None:
        current = "denied" if not automatic else "unknown"
    else:
        current = "automatic" if may_quote(state, viewer, st) else "denied"
    return {"automatic": automatic, "manual": [], "current_user": current}


def _home_of(state: InstanceState, st: Status) -> InstanceState | None:
    return state.network.instances.get(urlsplit(st.account.uri).netloc)
