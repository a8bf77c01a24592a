"""Finding an account on the home instance by its handle, the one way the relay and `relay check` do it.

The moderation channel looks its moderators up to learn the account URI a DM must come from;
`relay check` looks them up to say whether the relay will find them. Both ask `account_lookup`
first (the home instance's own view), then a resolving search (webfinger, for an account the home
instance has not met yet), and take only an account whose handle is the one asked for: a search
answers with near matches too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mastodon import Mastodon, MastodonNotFoundError

from relay.core.accounts import full_acct, norm_acct


def find_account(api: Mastodon, handle: str, home: str) -> Mapping[str, Any] | None:
    """The account `handle` (user@domain) as the home instance (its accounts' domain: `home`) knows
    it, or None when neither lookup nor search finds that very account. MastodonError passes through."""
    wanted = norm_acct(handle)

    def same(acct: str) -> bool:
        return full_acct(acct, home) == wanted

    try:
        account = api.account_lookup(handle)
        if same(account["acct"]):
            return dict(account)
    except MastodonNotFoundError:
        pass
    results = api.search_v2(handle, resolve=True, result_type="accounts")
    return next((dict(a) for a in results.get("accounts") or () if same(a["acct"])), None)
