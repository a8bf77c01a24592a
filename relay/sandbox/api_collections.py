"""Mastodon 4.6 Collections, as docs.joinmastodon.org documents them (methods/collections,
entities/Collection, CollectionItem, CollectionWithAccounts; client/collections).

- `POST /api/v1/collections` (name required, at most 40 characters; description at most 100;
  `account_ids` optional), at most `COLLECTION_LIMIT` per user (the role's `collection_limit`);
- `GET /api/v1/collections/:id`: the Collection and its accounts; its owner sees every item, anyone
  else only `accepted` ones; `PATCH` and `DELETE` by the owner;
- `GET /api/v1/accounts/:id/collections` (the documentation writes `/api/v1/:account_id/collections`;
  both are served) and `.../in_collections`;
- `POST /api/v1/collections/:id/items` adds an account by id: 422 when it does not allow being
  featured (`feature_approval` denied), is there already, or the Collection holds `MAX_ITEMS`;
  `DELETE .../items/:item_id` by the owner; `POST .../items/:item_id/revoke` by the featured account.

Consent: an item is `accepted` at once for a local account that approves automatically; otherwise
it is `pending` until the account's own server answers. For an account of another sandbox instance
that approves automatically, that instance answers at once (federation here is synchronous) unless
the two are partitioned; an account that approves manually answers when its owner does
(`Instance.answer_feature_requests`, standing for the member's "accept" in their app).
"""

from __future__ import annotations

from relay.sandbox.model import SNOWFLAKES, Account, Collection, CollectionItem, iso, utcnow
from relay.sandbox.render import Json, account
from relay.sandbox.routing import Request, Response, error, json_response, route
from relay.sandbox.state import NOT_ALLOWED, NOT_FOUND, InstanceState, SandboxError

READ = ("read", "read:collections")
WRITE = ("write", "write:collections")
MAX_ITEMS = 25
COLLECTION_LIMIT = 10
MAX_NAME = 40
MAX_DESCRIPTION = 100


def render_item(item: CollectionItem) -> Json:
    return {
        "id": item.id,
        "account_id": item.account.id,
        "state": item.state,
        "created_at": iso(item.created_at),
    }


def _visible_items(collection: Collection, viewer: Account | None) -> list[CollectionItem]:
    if viewer is collection.owner:
        return list(collection.items)
    return [i for i in collection.items if i.state == "accepted"]


def render_collection(state: InstanceState, collection: Collection, viewer: Account | None) -> Json:
    items = _visible_items(collection, viewer)
    owner = collection.owner
    return {
        "id": collection.id,
        "account_id": owner.id,
        "uri": f"{state.url}/ap/users/{owner.id}/collections/{collection.id}",
        "url": f"{state.url}/collections/{collection.id}",
        "name": collection.name,
        "description": collection.description,
        "language": collection.language,
        "local": True,
        "sensitive": collection.sensitive,
        "discoverable": collection.discoverable,
        "tag": None
        if collection.tag is None
        else {"name": collection.tag, "url": f"{state.url}/tags/{collection.tag}"},
        "item_count": len(items),
        "items": [render_item(i) for i in items],
        "created_at": iso(collection.created_at),
        "updated_at": iso(collection.updated_at),
    }


def _invalid(attribute: str, code: str, description: str) -> Response:
    message = f"Validation failed: {attribute.capitalize()} {description}"
    details = {attribute: [{"error": code, "description": description}]}
    return json_response({"error": {"error": message, "details": details}}, 422)


def _metadata(request: Request, collection: Collection | None) -> Response | None:
    """Apply the form's metadata to `collection` (None: only validate); a 422 when invalid."""
    name = request.param("name")
    description = request.param("description")
    if collection is None and not name:
        return _invalid("name", "ERR_BLANK", "can't be blank")
    if name is not None and len(name) > MAX_NAME:
        return _invalid("name", "ERR_TOO_LONG", f"is too long (maximum is {MAX_NAME} characters)")
    if description is not None and len(description) > MAX_DESCRIPTION:
        return _invalid(
            "description", "ERR_TOO_LONG", f"is too long (maximum is {MAX_DESCRIPTION} characters)"
        )
    if collection is not None:
        collection.name = name if name is not None else collection.name
        collection.description = description if description is not None else collection.description
        tag = request.param("tag_name")
        if tag is not None:
            collection.tag = tag.lstrip("#") or None
        if request.param("language") is not None:
            collection.language = request.param("language") or None
        if request.param("sensitive") is not None:
            collection.sensitive = request.flag("sensitive")
        if request.param("discoverable") is not None:
            collection.discoverable = request.flag("discoverable")
        collection.updated_at = utcnow()
    return None


def _feature(state: InstanceState, collection: Collection, target: Account) -> CollectionItem:
    """Add `target` to `collection` with the consent state its server gives (module docstring)."""
    origin = None if target.domain is None else state.network.instances.get(target.uri.split("/")[2])
    reachable = origin is not None and state.network.connected(state, origin)
    own = origin.account_by_uri(target.uri) if origin is not None and reachable else None
    policy = (own or target).feature_policy  # the member's own server knows their choice
    if policy == "denied":
        raise SandboxError(422, "Validation failed: Account does not allow being featured in collections")
    if any(i.account is target for i in collection.items):
        raise SandboxError(422, "Validation failed: Account has already been taken")
    if len(collection.items) >= MAX_ITEMS:
        raise SandboxError(422, f"Validation failed: Items is too long (maximum is {MAX_ITEMS})")
    item = CollectionItem(id=SNOWFLAKES.next(), account=target, state="pending")
    collection.items.append(item)
    collection.updated_at = utcnow()
    if target.domain is None:
        item.state = "accepted" if policy == "automatic" else "pending"
        return item
    if policy == "automatic" and reachable:
        item.state = "accepted"  # the account's server approves automatically, at once
    return item


def answer_feature_requests(state: InstanceState, member: Account, *, accept: bool) -> int:
    """`member` (a local account of `state`) answers every pending request to feature them, on
    every instance of the network; how many were answered."""
    answered = 0
    for peer in state.network.instances.values():
        for collection in peer.collections.values():
            for item in collection.items:
                if item.account.uri == member.uri and item.state == "pending":
                    item.state = "accepted" if accept else "rejected"
                    collection.updated_at = utcnow()
                    answered += 1
    return answered


def _owned(request: Request) -> Collection:
    collection = request.state.collections.get(request.args["id"])
    if collection is None:
        raise SandboxError(404, NOT_FOUND)
    if collection.owner is not request.account:
        raise SandboxError(403, NOT_ALLOWED)
    return collection


@route("POST", r"/api/v1/collections", auth="user", scopes=WRITE)
def create(request: Request) -> Response:
    state, owner = request.state, request.account
    invalid = _metadata(request, None)
    if invalid:
        return invalid
    if sum(1 for c in state.collections.values() if c.owner is owner) >= COLLECTION_LIMIT:
        return error(422, f"Validation failed: You cannot create more than {COLLECTION_LIMIT} collections")
    collection = Collection(id=SNOWFLAKES.next(), owner=owner, name=request.param("name") or "")
    _metadata(request, collection)
    for account_id in request.params("account_ids"):
        target = state.accounts.get(account_id)
        if target is None:
            return error(422, "Validation failed: Account must exist")
        _feature(state, collection, target)
    state.collections[collection.id] = collection
    return json_response({"collection": render_collection(state, collection, owner)})


@route("GET", r"/api/v1/collections/(?P<id>\d+)", scopes=READ)
def get(request: Request) -> Response:
    state = request.state
    collection = state.collections.get(request.args["id"])
    if collection is None:
        return error(404, NOT_FOUND)
    viewer = request.viewer
    accounts = [collection.owner] + [i.account for i in _visible_items(collection, viewer)]
    return json_response(
        {
            "accounts": [account(state, a) for a in accounts],
            "collection": render_collection(state, collection, viewer),
        }
    )


@route("PATCH", r"/api/v1/collections/(?P<id>\d+)", auth="user", scopes=WRITE)
def update(request: Request) -> Response:
    collection = _owned(request)
    invalid = _metadata(request, collection)
    return invalid or json_response(
        {"collection": render_collection(request.state, collection, request.account)}
    )


@route("DELETE", r"/api/v1/collections/(?P<id>\d+)", auth="user", scopes=WRITE)
def delete(request: Request) -> Response:
    collection = _owned(request)
    del request.state.collections[collection.id]
    return json_response({})


def _listing(request: Request, *, featured: bool) -> Response:
    state = request.state
    target = state.accounts.get(request.args["account_id"])
    if target is None:
        return error(404, NOT_FOUND)
    try:
        limit = min(max(int(request.param("limit") or 40), 1), 80)
        offset = max(int(request.param("offset") or 0), 0)
    except ValueError:
        return error(422, "Invalid paging parameters")
    if featured:
        found = [
            c
            for c in state.collections.values()
            if any(i.account is target for i in _visible_items(c, request.viewer))
        ]
    else:
        found = [c for c in state.collections.values() if c.owner is target]
    chosen = found[offset : offset + limit]
    return json_response({"collections": [render_collection(state, c, request.viewer) for c in chosen]})


@route("GET", r"/api/v1/(?:accounts/)?(?P<account_id>\d+)/collections", scopes=READ)
def account_collections(request: Request) -> Response:
    return _listing(request, featured=False)


@route("GET", r"/api/v1/(?:accounts/)?(?P<account_id>\d+)/in_collections", scopes=READ)
def in_collections(request: Request) -> Response:
    return _listing(request, featured=True)


@route("POST", r"/api/v1/collections/(?P<id>\d+)/items", auth="user", scopes=WRITE)
def add_item(request: Request) -> Response:
    collection = _owned(request)
    account_id = request.param("account_id")
    if not account_id:
        return error(422, "`account_id` parameter is missing")
    target = request.state.accounts.get(account_id)
    if target is None:
        return error(422, "Validation failed: Account must exist")
    item = _feature(request.state, collection, target)
    return json_response({"collection_item": render_item(item)})


@route("DELETE", r"/api/v1/collections/(?P<id>\d+)/items/(?P<item>\d+)", auth="user", scopes=WRITE)
def remove_item(request: Request) -> Response:
    collection = _owned(request)
    item = next((i for i in collection.items if i.id == request.args["item"]), None)
    if item is None:
        return error(404, NOT_FOUND)
    collection.items.remove(item)
    collection.updated_at = utcnow()
    return json_response({})


@route("POST", r"/api/v1/collections/(?P<id>\d+)/items/(?P<item>\d+)/revoke", auth="user", scopes=WRITE)
def revoke_item(request: Request) -> Response:
    collection = request.state.collections.get(request.args["id"])
    item = (
        None
        if collection is None
        else next((i for i in collection.items if i.id == request.args["item"]), None)
    )
    if collection is None or item is None:
        return error(404, NOT_FOUND)
    if item.account is not request.account:
        return error(403, NOT_ALLOWED)
    item.state = "revoked"
    collection.updated_at = utcnow()
    return json_response({})
