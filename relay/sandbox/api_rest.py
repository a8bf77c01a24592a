"""REST endpoints for accounts, statuses, timelines, search and notifications."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

from relay.sandbox import feeds, quotes, render
from relay.sandbox.model import POLICY_VALUES, VISIBILITIES, Status, id_order, utcnow
from relay.sandbox.quotes import QUOTE_POLICIES
from relay.sandbox.routing import Request, Response, error, json_response, page, route
from relay.sandbox.state import NOT_FOUND, SandboxError
from relay.sandbox.text import normalize_tag

READ_ACCOUNTS = ("read", "read:accounts")
READ_STATUSES = ("read", "read:statuses")
WRITE_STATUSES = ("write", "write:statuses")
ID = r"(?P<id>[0-9A-Za-z]+)"  # numeric, or a ULID on GoToSocial
FOLLOWS = ("follow", "write", "write:follows")


def _account_or_404(request: Request, account_id: str) -> Response | None:
    return None if account_id in request.state.accounts else error(404, NOT_FOUND)


@route("GET", r"/api/v1/accounts/verify_credentials", auth="user", scopes=READ_ACCOUNTS)
def verify_credentials(request: Request) -> Response:
    return json_response(render.credential_account(request.state, request.account))


@route("GET", r"/api/v1/preferences", auth="user", scopes=READ_ACCOUNTS)
def preferences(request: Request) -> Response:
    acc = request.account
    return json_response(
        {
            "posting:default:visibility": "public",
            "posting:default:sensitive": False,
            "posting:default:language": acc.language,
            "posting:default:quote_policy": "public",
            "reading:expand:media": "default",
            "reading:expand:spoilers": False,
            "reading:autoplay:gifs": False,
        }
    )


@route("GET", r"/api/v1/accounts/lookup")
def lookup(request: Request) -> Response:
    acc = request.state.find_account(request.param("acct") or "")
    return error(404, NOT_FOUND) if acc is None else json_response(render.account(request.state, acc))


@route("GET", r"/api/v1/accounts/relationships", auth="user", scopes=("read", "read:follows"))
def relationships(request: Request) -> Response:
    state = request.state
    others = [state.accounts[i] for i in request.params("id") if i in state.accounts]
    return json_response([render.relationship(state, request.account, o) for o in others])


@route("GET", rf"/api/v1/accounts/{ID}/statuses", scopes=READ_STATUSES)
def account_statuses(request: Request) -> Response:
    """An account's statuses, newest first, as the viewer may see them (the author sees all of
    theirs, direct ones too, as on Mastodon); `exclude_reblogs` and `exclude_replies` (a reply to
    oneself is kept, as Mastodon keeps threads)."""
    missing = _account_or_404(request, request.args["id"])
    if missing:
        return missing
    state, viewer = request.state, request.viewer
    author = state.accounts[request.args["id"]]
    statuses = [s for s in state.statuses.values() if s.account is author and state.visible(s, viewer)]
    if request.flag("exclude_reblogs"):
        statuses = [s for s in statuses if s.reblog is None]
    if request.flag("exclude_replies"):
        statuses = [s for s in statuses if s.in_reply_to is None or s.in_reply_to.account is author]
    items, headers = page(request, statuses, lambda s: s.id)
    response = json_response([render.status(state, s, viewer) for s in items])
    response.headers.update(headers)
    return response


@route("GET", rf"/api/v1/accounts/{ID}")
def get_account(request: Request) -> Response:
    missing = _account_or_404(request, request.args["id"])
    return missing or json_response(render.account(request.state, request.state.accounts[request.args["id"]]))


@route("POST", rf"/api/v1/accounts/{ID}/(?P<verb>follow|unfollow)", auth="user", scopes=FOLLOWS)
def follow(request: Request) -> Response:
    missing = _account_or_404(request, request.args["id"])
    if missing:
        return missing
    state, target = request.state, request.state.accounts[request.args["id"]]
    if request.args["verb"] == "follow":
        if target is request.account:
            return error(403, "This action is not allowed")
        state.follow(request.account, target)
    else:
        state.unfollow(request.account, target)
    return json_response(render.relationship(state, request.account, target))


# ---- statuses -------------------------------------------------------------------------------


def _visibility(request: Request, default: str = "public") -> str:
    visibility = request.param("visibility") or default
    if visibility not in VISIBILITIES:
        raise SandboxError(422, "Validation failed: Visibility is not included in the list")
    return visibility


IDEMPOTENCY_TTL = timedelta(hours=1)  # Mastodon keeps a status's Idempotency-Key for an hour


@route("POST", r"/api/v1/statuses", auth="user", scopes=WRITE_STATUSES)
def post_status(request: Request) -> Response:
    """A new status; with an `Idempotency-Key` header already used by this account within the hour,
    the status made then, unchanged (as Mastodon's PostStatusService answers a duplicate)."""
    state = request.state
    key = request.header("Idempotency-Key")
    now = utcnow()
    if key:
        earlier = state.idempotency.get((request.account.id, key))
        if earlier is not None and earlier[1] > now and earlier[0] in state.statuses:
            return json_response(render.status(state, state.statuses[earlier[0]], request.account))
    reply_id = request.param("in_reply_to_id")
    in_reply_to = state.get_status(reply_id, request.account) if reply_id else None
    quoted_id = request.param("quoted_status_id")
    quoted = state.get_status(quoted_id, request.account) if quoted_id else None
    policy = request.param("quote_approval_policy") or None
    if policy is not None and policy not in QUOTE_POLICIES:
        raise SandboxError(422, "Validation failed: Quote approval policy is not included in the list")
    st = state.post_status(
        request.account,
        request.param("status") or "",
        visibility=_visibility(request),
        in_reply_to=in_reply_to,
        spoiler_text=request.param("spoiler_text") or "",
        sensitive=request.flag("sensitive"),
        language=request.param("language") or None,
        application=request.token.app.name if request.token else None,
        quoted=quoted,
        quote_policy=policy,
    )
    if key:
        state.idempotency[(request.account.id, key)] = (st.id, now + IDEMPOTENCY_TTL)
    return json_response(render.status(state, st, request.account))


# Mastodon's `Api::BaseController::DEFAULT_STATUSES_LIMIT`: more ids in one request is a 422.
MAX_STATUSES_PER_REQUEST = 20


@route("GET", r"/api/v1/statuses", scopes=READ_STATUSES)
def get_statuses(request: Request) -> Response:
    """Several statuses by id (Mastodon 4.3+): in the order asked, each id once; an id the viewer
    cannot see, or that does not exist, is left out (no 404)."""
    ids = list(dict.fromkeys(request.params("id")))
    if len(ids) > MAX_STATUSES_PER_REQUEST:
        return error(422, "Validation failed")
    state, viewer = request.state, request.viewer
    found = [state.statuses.get(i) for i in ids]
    return json_response(
        [render.status(state, st, viewer) for st in found if st is not None and state.visible(st, viewer)]
    )


@route("GET", rf"/api/v1/statuses/{ID}", scopes=READ_STATUSES)
def get_status(request: Request) -> Response:
    st = request.state.get_status(request.args["id"], request.viewer)
    return json_response(render.status(request.state, st, request.viewer))


def _own_status(request: Request) -> Status:
    st = request.state.get_status(request.args["id"], request.account)
    if st.account is not request.account or st.reblog is not None:
        raise SandboxError(404, NOT_FOUND)
    return st


@route("PUT", rf"/api/v1/statuses/{ID}", auth="user", scopes=WRITE_STATUSES)
def edit_status(request: Request) -> Response:
    st = _own_status(request)
    sensitive = request.param("sensitive")
    request.state.edit_status(
        st,
        request.param("status") or st.text,
        spoiler_text=request.param("spoiler_text"),
        sensitive=None if sensitive is None else request.flag("sensitive"),
        language=request.param("language"),
    )
    return json_response(render.status(request.state, st, request.account))


@route(
    "POST",
    rf"/api/v1/statuses/{ID}/quotes/(?P<quoting>[0-9A-Za-z]+)/revoke",
    auth="user",
    scopes=WRITE_STATUSES,
)
def revoke_quote(request: Request) -> Response:
    """The quoted author revokes a quote of their post (Mastodon 4.5); returns the quoting status."""
    quoted = _own_status(request)
    quoting = request.state.get_status(request.args["quoting"], request.account)
    quotes.revoke(request.state, quoted, quoting)
    return json_response(render.status(request.state, quoting, request.account))


@route(
    "DELETE",
    rf"/api/v1/statuses/{ID}",
    auth="user",
    scopes=WRITE_STATUSES,
    budget="unreblog_delete",
)
def delete_status(request: Request) -> Response:
    st = _own_status(request)
    body = render.status(request.state, st, request.account, deleted=True)
    request.state.delete_status(st)
    return json_response(body)


# Mastodon's `Api::V1::Statuses::ContextsController`: a reader without a token gets at most 40
# ancestors and 60 descendants, 20 levels deep; with a token, up to 4,096.
CONTEXT_LIMIT = 4_096
ANCESTORS_LIMIT = 40
DESCENDANTS_LIMIT = 60
DESCENDANTS_DEPTH_LIMIT = 20


@route("GET", rf"/api/v1/statuses/{ID}/context", scopes=READ_STATUSES)
def context(request: Request) -> Response:
    state, viewer = request.state, request.viewer
    st = state.get_status(request.args["id"], viewer)
    tokenless = request.token is None
    ancestors: list[Status] = []
    parent = st.in_reply_to
    while parent is not None and parent.id in state.statuses:
        ancestors.insert(0, parent)
        parent = parent.in_reply_to
    descendants: list[Status] = []
    frontier = [(st, 0)]
    while frontier:
        current, depth = frontier.pop(0)
        if tokenless and depth >= DESCENDANTS_DEPTH_LIMIT:
            continue
        children = sorted(
            (s for s in state.statuses.values() if s.in_reply_to is current), key=lambda s: id_order(s.id)
        )
        descendants.extend(children)
        frontier.extend((child, depth + 1) for child in children)
    shown_ancestors = [s for s in ancestors if state.visible(s, viewer)]
    shown = [s for s in descendants if state.visible(s, viewer)]
    limits = (ANCESTORS_LIMIT, DESCENDANTS_LIMIT) if tokenless else (CONTEXT_LIMIT, CONTEXT_LIMIT)
    return json_response(
        {
            "ancestors": [render.status(state, s, viewer) for s in shown_ancestors[-limits[0] :]],
            "descendants": [render.status(state, s, viewer) for s in shown[: limits[1]]],
        }
    )


@route("POST", rf"/api/v1/statuses/{ID}/reblog", auth="user", scopes=WRITE_STATUSES)
def reblog(request: Request) -> Response:
    state = request.state
    st = state.get_status(request.args["id"], request.account)
    boosted = state.reblog(request.account, st, _visibility(request))
    return json_response(render.status(state, boosted, request.account))


@route(
    "POST",
    rf"/api/v1/statuses/{ID}/unreblog",
    auth="user",
    scopes=WRITE_STATUSES,
    budget="unreblog_delete",
)
def unreblog(request: Request) -> Response:
    state = request.state
    st = state.get_status(request.args["id"], request.account)
    original = state.unreblog(request.account, st)
    return json_response(render.status(state, original, request.account))


# ---- timelines and search -------------------------------------------------------------------


def tag_feed_allows(request: Request, *, rss: bool = False) -> tuple[bool, bool]:
    """Which of (local, remote) the tag feed shows this request; 422 if it must log in.

    The RSS feed (Mastodon's TagsController) cannot ask a feed reader to sign in: it leaves out
    what is `disabled` but does not refuse anonymous readers of an `authenticated` feed.
    """
    feeds = request.state.hashtag_feeds
    wanted = (
        ["local"] if request.flag("local") else ["remote"] if request.flag("remote") else ["local", "remote"]
    )
    if not rss and request.viewer is None and any(feeds[w] != "public" for w in wanted):
        raise SandboxError(422, "This method requires an authenticated user")
    return (
        "local" in wanted and feeds["local"] != "disabled",
        "remote" in wanted and feeds["remote"] != "disabled",
    )


def tagged(request: Request, tag: str, *, rss: bool = False) -> list[Status]:
    show_local, show_remote = tag_feed_allows(request, rss=rss)
    wanted = normalize_tag(tag)
    state = request.state
    return [
        s
        for s in state.statuses.values()
        if feeds.in_public_feeds(state, s)
        and (show_local if s.local else show_remote)
        and feeds.has_tag(s, wanted)
    ]


@route("GET", r"/api/v1/timelines/tag/(?P<tag>[^/]+)", scopes=READ_STATUSES)
def tag_timeline(request: Request) -> Response:
    if request.state.flavour.tag_timeline_token and request.token is None:
        raise SandboxError(401, "Unauthorized: token not supplied")  # GoToSocial
    items, headers = page(request, tagged(request, request.args["tag"]), lambda s: s.id)
    response = json_response([render.status(request.state, s, request.viewer) for s in items])
    response.headers.update(headers)
    return response


@route("GET", r"/api/v1/timelines/home", auth="user", scopes=READ_STATUSES)
def home_timeline(request: Request) -> Response:
    state, me = request.state, request.account
    statuses = [s for s in state.statuses.values() if feeds.in_home(state, me, s) and state.visible(s, me)]
    items, headers = page(request, statuses, lambda s: s.id)
    response = json_response([render.status(state, s, me) for s in items])
    response.headers.update(headers)
    return response


@route("GET", r"/api/v2/search", scopes=("read", "read:search"))
def search(request: Request) -> Response:
    state, viewer = request.state, request.viewer
    query = (request.param("q") or "").strip()
    kind = request.param("type")
    result: dict[str, list[object]] = {"accounts": [], "statuses": [], "hashtags": [], "collections": []}
    if query.startswith(("http://", "https://")):
        if viewer is None:
            return json_response(result)
        st = state.status_by_url(query)
        if st is None and request.flag("resolve"):
            st = state.network.fetch_status(state, query)
        if st is not None and kind in (None, "statuses") and state.visible(st, viewer):
            result["statuses"].append(render.status(state, st, viewer))
        return json_response(result)
    if kind in (None, "accounts"):
        needle = query.lstrip("@").lower()
        found = [
            a
            for a in state.accounts.values()
            if needle and (needle in a.acct.lower() or needle in a.display_name.lower())
        ]
        if "@" in needle and not found and request.flag("resolve") and viewer is not None:
            remote = state.find_account(needle)
            found = [remote] if remote else []
        result["accounts"] = [render.account(state, a) for a in found]
    return json_response(result)


# ---- notifications --------------------------------------------------------------------------

READ_NOTIFICATIONS = ("read", "read:notifications")


@route("GET", r"/api/v1/notifications", auth="user", scopes=READ_NOTIFICATIONS)
def notifications(request: Request) -> Response:
    state = request.state
    notes = state.notifications_for(request.account)
    types, excluded = request.params("types"), request.params("exclude_types")
    notes = [n for n in notes if (not types or n.type in types) and n.type not in excluded]
    items, headers = page(
        request, notes, lambda n: request.state.shown_id(n.id), default_limit=40, max_limit=80
    )
    response = json_response([render.notification(state, n) for n in items])
    response.headers.update(headers)
    return response


@route("GET", rf"/api/v1/notifications/{ID}", auth="user", scopes=READ_NOTIFICATIONS)
def notification(request: Request) -> Response:
    for note in request.state.notifications_for(request.account):
        if request.state.shown_id(note.id) == request.args["id"]:
            return json_response(render.notification(request.state, note))
    return error(404, NOT_FOUND)


@route(
    "POST",
    rf"/api/v1/notifications/{ID}/dismiss",
    auth="user",
    scopes=("write", "write:notifications"),
)
def dismiss(request: Request) -> Response:
    state = request.state
    state.notifications = [
        n
        for n in state.notifications
        if not (n.recipient is request.account and request.state.shown_id(n.id) == request.args["id"])
    ]
    return json_response({})


@route("POST", r"/api/v1/notifications/clear", auth="user", scopes=("write", "write:notifications"))
def clear_notifications(request: Request) -> Response:
    state = request.state
    state.notifications = [n for n in state.notifications if n.recipient is not request.account]
    return json_response({})


@route(
    "(GET|PATCH|PUT)",
    r"/api/v2/notifications/policy",
    auth="user",
    scopes=("read", "read:notifications", "write", "write:notifications"),
)
def notification_policy(request: Request) -> Response:
    policy = request.state.policy(request.account)
    if request.method != "GET":
        for name in asdict(policy):
            value = request.param(name)
            if value is not None:
                if value not in POLICY_VALUES:
                    return error(422, f"Validation failed: {name} is not included in the list")
                setattr(policy, name, value)
    body: dict[str, object] = dict(asdict(policy))
    filtered = [n for n in request.state.notifications if n.recipient is request.account and n.filtered]
    body["summary"] = {
        "pending_requests_count": len({n.account.id for n in filtered}),
        "pending_notifications_count": len(filtered),
    }
    return json_response(body)


@route("GET", r"/api/v1/conversations", auth="user", scopes=("read", "read:statuses"))
def conversations(request: Request) -> Response:
    state = request.state
    mine = [c for c in state.conversations if c.owner is request.account]
    items, headers = page(request, mine, lambda c: request.state.shown_id(c.id))
    response = json_response([render.conversation(state, c) for c in items])
    response.headers.update(headers)
    return response


# ---- followed hashtags ----------------------------------------------------------------------


def _tag(request: Request, name: str) -> Response:
    """Mastodon's Tag entity, as GET /api/v1/tags/:name and the follow calls return it."""
    following = request.viewer is not None and normalize_tag(name) in request.state.tags_followed_by(
        request.viewer
    )
    return json_response(
        {
            "name": normalize_tag(name),
            "url": f"{request.state.url}/tags/{normalize_tag(name)}",
            "history": [],
            "following": following,
        }
    )


def _tags_supported(request: Request) -> None:
    if not request.state.flavour.follow_tags:
        raise SandboxError(404, "Not Found")


@route("GET", r"/api/v1/tags/(?P<tag>[^/]+)")
def get_tag(request: Request) -> Response:
    _tags_supported(request)
    return _tag(request, request.args["tag"])


@route("POST", r"/api/v1/tags/(?P<tag>[^/]+)/(?P<verb>follow|unfollow)", auth="user", scopes=FOLLOWS)
def follow_tag(request: Request) -> Response:
    """Follow a hashtag: its public posts come to the home timeline and the ``user`` stream."""
    _tags_supported(request)
    tag = request.args["tag"]
    if not normalize_tag(tag):
        raise SandboxError(422, "Validation failed: Name is invalid")
    if request.args["verb"] == "follow":
        request.state.follow_tag(request.account, tag)
    else:
        request.state.unfollow_tag(request.account, tag)
    return _tag(request, tag)


@route("GET", r"/api/v1/followed_tags", auth="user", scopes=("read", "read:follows"))
def followed_tags(request: Request) -> Response:
    _tags_supported(request)
    return json_response([_tag(request, tag).body for tag in request.state.tags_followed_by(request.account)])
