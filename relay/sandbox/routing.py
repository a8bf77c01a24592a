"""Request/response values and the route table shared by the sandbox's API modules."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from relay.sandbox.model import Account, Token, id_order
from relay.sandbox.state import InstanceState, SandboxError

TRUE_VALUES = {"1", "true", "True", "on", "yes"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    state: InstanceState
    token: Token | None
    args: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def params(self, name: str) -> list[str]:
        for source in (self.form, self.query):
            for key in (name, f"{name}[]"):
                if key in source:
                    return source[key]
        return []

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.params(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool:
        return self.param(name, "") in TRUE_VALUES

    @property
    def account(self) -> Account:
        if self.token is None or self.token.account is None:
            raise SandboxError(422, "This method requires an authenticated user")
        return self.token.account

    @property
    def viewer(self) -> Account | None:
        return None if self.token is None else self.token.account


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or str/bytes with content_type set
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: str  # "none" | "optional" | "app" | "user"
    scopes: tuple[str, ...]
    budget: str | None  # extra rate budget, e.g. "unreblog_delete"


ROUTES: list[Route] = []


def route(
    method: str,
    path: str,
    *,
    auth: str = "optional",
    scopes: tuple[str, ...] = (),
    budget: str | None = None,
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, re.compile(path + r"/?\Z"), handler, auth, scopes, budget))
        return handler

    return register


def json_response(body: Any, status: int = 200) -> Response:
    return Response(status=status, body=body)


def error(status: int, message: str) -> Response:
    return Response(status=status, body={"error": message})


def page(
    request: Request,
    items: list[Any],
    key: Callable[[Any], str],
    default_limit: int = 20,
    max_limit: int = 40,
) -> tuple[list[Any], dict[str, str]]:
    """Mastodon paging over ``items`` by their id (``key``): newest first; ``min_id`` pages forward
    from the oldest. Ids are compared as the server orders them (numbers, or GoToSocial's ULIDs)."""
    ulids = request.state.flavour.ulid_ids
    try:
        limit = min(max(int(request.param("limit") or default_limit), 1), max_limit)
    except ValueError as exc:
        raise SandboxError(422, "Invalid paging parameters") from exc
    bounds: list[tuple[int, str] | None] = []
    for name in ("max_id", "since_id", "min_id"):
        value = request.param(name) or ""
        if value and not ulids and not value.isdigit():
            raise SandboxError(422, "Invalid paging parameters")
        bounds.append(id_order(value) if value and value != "0" else None)
    max_id, since_id, min_id = bounds
    max_id_only = request.state.flavour.max_id_only
    if max_id_only:  # Mitra: min_id and since_id are ignored, pages go back in time only
        since_id = min_id = None
    ordered = sorted(items, key=lambda i: id_order(key(i)))
    if max_id is not None:
        ordered = [i for i in ordered if id_order(key(i)) < max_id]
    if since_id is not None:
        ordered = [i for i in ordered if id_order(key(i)) > since_id]
    # min_id pages forward: the oldest ``limit`` after it; otherwise the newest ``limit``.
    chosen = [i for i in ordered if id_order(key(i)) > min_id][:limit] if min_id else ordered[-limit:]
    chosen.reverse()
    headers: dict[str, str] = {}
    if chosen:
        base = request.state.url + request.path
        keep = {k: v[0] for k, v in request.query.items() if k not in ("max_id", "since_id", "min_id")}
        next_q = urlencode({**keep, "max_id": key(chosen[-1])})
        prev_q = urlencode({**keep, "min_id": key(chosen[0])})
        links = [f'<{base}?{next_q}>; rel="next"']
        if not max_id_only:
            links.append(f'<{base}?{prev_q}>; rel="prev"')
        headers["Link"] = ", ".join(links)
    return chosen, headers
