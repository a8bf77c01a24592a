"""Mastodon Collections (4.6+, `mastodon` API version 10): the directory's members as the bot's
Collections, kept in sync by `relay.runtime.directory`.

The API, as documented at docs.joinmastodon.org (methods/collections, entities/Collection and
CollectionItem, client/collections): `POST /api/v1/collections` creates one (name at most 40
characters, description at most 100), `GET /api/v1/collections/:id` reads it with its items (the
owner sees `pending` ones too), `POST /api/v1/collections/:id/items` adds an account by its id
and `DELETE /api/v1/collections/:id/items/:item_id` removes one. Each item carries the featured
account's consent: `pending` until their server accepts, then `accepted`, or `rejected` or
`revoked`; an account that does not allow being featured (`feature_approval`) cannot be added
(422). A Collection holds at most 25 accounts; a user may have 10 (the role's `collection_limit`).
Mastodon.py has no methods for these, so this is a small `requests` client with the home token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from relay import REQUEST_TIMEOUT, USER_AGENT

COLLECTIONS_API_VERSION = 10  # `api_versions.mastodon` of Mastodon 4.6, which added Collections
MAX_ITEMS = 25  # accounts in one Collection (Mastodon's limit for its own Collections)
MAX_NAME = 40
MAX_DESCRIPTION = 100


def has_collections(instance: Mapping[str, Any]) -> bool:
    """Whether an instance (its `/api/v2/instance`) has the Collections API."""
    versions = instance.get("api_versions")
    version = versions.get("mastodon") if isinstance(versions, Mapping) else None
    return isinstance(version, int) and version >= COLLECTIONS_API_VERSION


class CollectionsError(Exception):
    """The home instance refused or failed a Collections request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


@dataclass(frozen=True, slots=True)
class Item:
    """One account featured in a Collection, with its consent state."""

    id: str
    account_id: str | None
    state: str  # pending | accepted | rejected | revoked


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    url: str | None
    items: tuple[Item, ...]


class CollectionsClient:
    """The Collections endpoints of one instance, with one user token."""

    def __init__(self, base_url: str, token: str, session: requests.Session | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._session = session or requests.Session()
        self._session.headers.update({"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT})

    def create(self, name: str, description: str, tag: str | None) -> Collection:
        body: dict[str, Any] = {
            "name": name[:MAX_NAME],
            "description": description[:MAX_DESCRIPTION],
            "discoverable": True,
            "sensitive": False,
        }
        if tag:
            body["tag_name"] = tag
        return _collection(self._call("POST", "/api/v1/collections", body)["collection"])

    def get(self, collection_id: str) -> Collection:
        return _collection(self._call("GET", f"/api/v1/collections/{collection_id}")["collection"])

    def add(self, collection_id: str, account_id: str) -> Item:
        data = self._call("POST", f"/api/v1/collections/{collection_id}/items", {"account_id": account_id})
        return _item(data["collection_item"])

    def remove(self, collection_id: str, item_id: str) -> None:
        self._call("DELETE", f"/api/v1/collections/{collection_id}/items/{item_id}")

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self._session.request(method, self._base + path, json=body, timeout=REQUEST_TIMEOUT)
        except requests.RequestException as exc:
            raise CollectionsError(0, type(exc).__name__) from None
        if response.status_code >= 400:
            try:
                message = str(response.json().get("error") or response.reason)
            except ValueError:
                message = response.reason or ""
            raise CollectionsError(response.status_code, message)
        if not response.content:
            return {}
        data = response.json()
        if not isinstance(data, dict):
            raise CollectionsError(response.status_code, "the answer is not a JSON object")
        return data


def _item(data: Mapping[str, Any]) -> Item:
    account_id = data.get("account_id")
    return Item(str(data["id"]), None if account_id is None else str(account_id), str(data["state"]))


def _collection(data: Mapping[str, Any]) -> Collection:
    return Collection(
        id=str(data["id"]),
        url=data.get("url") if isinstance(data.get("url"), str) else None,
        items=tuple(_item(item) for item in data.get("items") or ()),
    )
