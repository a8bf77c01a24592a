"""One way to make a Mastodon.py client for any Mastodon-API server, whatever version it reports.

Mastodon.py parses the server's version string to gate its methods. Servers other than Mastodon
report versions it cannot parse: GoToSocial's own builds say `v0.20.0-rc1` (no number before the
first dot), Pleroma says `2.7.2 (compatible; Pleroma 2.9.1)`, a test build says anything at all,
and the parse raises a bare ValueError (a traceback in `relay run` and `relay login`). Even with
`version_check_mode="none"`, `Mastodon.log_in()` fetches and parses the version once more after
the token exchange unless a version was given when the client was made. So every client the relay
makes gets both: no version checks, and a placeholder version that is never parsed. What the
server really is comes from its NodeInfo (`relay.sources.nodeinfo`), not from this string.
"""

from __future__ import annotations

from typing import Literal

import requests
from mastodon import Mastodon

from relay import REQUEST_TIMEOUT, USER_AGENT

# Never parsed (version_check_mode="none"); given so that Mastodon.py never fetches one to parse.
UNPARSED_VERSION = "4.0.0"


def mastodon_client(
    url: str,
    token: str | None = None,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    ratelimit_method: Literal["throw", "wait", "pace"] = "throw",
    timeout: float = REQUEST_TIMEOUT,
    session: requests.Session | None = None,
    user_agent: str = USER_AGENT,
) -> Mastodon:
    """A client for the instance at `url` that raises on 429 (the relay keeps its own budgets)
    and never parses the server's version."""
    return Mastodon(
        client_id=client_id,
        client_secret=client_secret,
        access_token=token,
        api_base_url=url,
        ratelimit_method=ratelimit_method,
        request_timeout=timeout,
        session=session,
        user_agent=user_agent,
        version_check_mode="none",
        mastodon_version=UNPARSED_VERSION,
    )
