"""Which server an instance runs: `/.well-known/nodeinfo` → its NodeInfo 2.x document → `ServerKind`.

NodeInfo (https://nodeinfo.diaspora.software/protocol) is served by nearly every fediverse server:
`/.well-known/nodeinfo` lists links `{"rel": ".../ns/schema/2.x", "href": ...}`, and the document
behind the newest 2.x link says `software.name` and `software.version`. `relay.core.servers` maps
that to what a Mastodon-API reader can get from the server.

Nothing here fails: a server that hides its nodeinfo, answers with something else, is slow or
unreachable is taken to be Mastodon-compatible (`relay.core.servers.UNKNOWN`) and `Detected.error`
says why, for the caller to log once. The document is fetched from the instance's own host: an
`href` on the same host is read with the instance's scheme and port (GoToSocial, for one, advertises
`https://` while a test serves it over plain HTTP); an `href` on another host is followed over
https only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import structlog

from relay import REQUEST_TIMEOUT, USER_AGENT
from relay.core.servers import UNKNOWN, ServerKind, server_kind

log = structlog.get_logger()

WELL_KNOWN = "/.well-known/nodeinfo"
_SCHEMA = re.compile(r"^https?://nodeinfo\.diaspora\.software/ns/schema/2\.(\d+)$")
MAX_BYTES = 256 * 1024  # a NodeInfo document is a few hundred bytes; anything huge is not one


@dataclass(frozen=True, slots=True)
class Detected:
    """The kind of server found at one instance, and why it is only a guess when `error` is set."""

    kind: ServerKind
    error: str | None = None  # why nodeinfo could not be read (then `kind` is UNKNOWN)


def detect(
    url: str, *, session: requests.Session | None = None, timeout: float = REQUEST_TIMEOUT
) -> Detected:
    """The `ServerKind` of the instance at base URL `url`, from its NodeInfo (UNKNOWN when it says none)."""
    http = session or requests.Session()
    try:
        links = _get_json(http, url + WELL_KNOWN, timeout)
        href = document_url(links, url)
        if href is None:
            return Detected(UNKNOWN, f"{WELL_KNOWN} lists no NodeInfo 2.x document")
        document = _get_json(http, href, timeout)
    except requests.RequestException as exc:
        return Detected(UNKNOWN, _describe(exc))
    except ValueError as exc:
        return Detected(UNKNOWN, f"not NodeInfo: {exc}")
    finally:
        if session is None:
            http.close()
    kind = server_kind(document)
    if kind is UNKNOWN or not kind.software:
        return Detected(kind, "the NodeInfo document names no software")
    return Detected(kind)


def detect_and_log(url: str, host: str, **kwargs: Any) -> ServerKind:
    """`detect`, logging what was found once (`server.kind`, or `server.kind_unknown` at info)."""
    found = detect(url, **kwargs)
    if found.error is None:
        log.info("server.kind", instance=host, family=found.kind.family, server=found.kind.label)
    else:
        log.info("server.kind_unknown", instance=host, assumed="mastodon-compatible", reason=found.error)
    return found.kind


def document_url(links: Any, base: str) -> str | None:
    """The URL of the newest NodeInfo 2.x document `/.well-known/nodeinfo`'s `links` name, or None.

    An `href` on the instance's own host is read with the instance's scheme and port; one on
    another host only over https; anything else is ignored.
    """
    if not isinstance(links, Mapping) or not isinstance(links.get("links"), list):
        return None
    best: tuple[int, str] | None = None
    for link in links["links"]:
        if not isinstance(link, Mapping) or not isinstance(link.get("href"), str):
            continue
        match = _SCHEMA.match(str(link.get("rel") or ""))
        if match is None:
            continue
        href = _rebase(link["href"], base)
        if href is not None and (best is None or int(match.group(1)) > best[0]):
            best = (int(match.group(1)), href)
    return best[1] if best else None


def _rebase(href: str, base: str) -> str | None:
    own = urlsplit(base)
    try:
        parts = urlsplit(href)
        hostname = parts.hostname
    except ValueError:
        return None
    if not parts.scheme and not parts.netloc and href.startswith("/"):
        return f"{own.scheme}://{own.netloc}{href}"
    if hostname is None or parts.scheme not in ("http", "https"):
        return None
    if hostname == own.hostname:
        query = f"?{parts.query}" if parts.query else ""
        return f"{own.scheme}://{own.netloc}{parts.path}{query}"
    return href if parts.scheme == "https" else None


def _get_json(http: requests.Session, url: str, timeout: float) -> Any:
    response = http.get(
        url,
        headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        timeout=timeout,
        stream=True,
    )
    try:
        response.raise_for_status()
        body = response.raw.read(MAX_BYTES + 1, decode_content=True)
    finally:
        response.close()
    if len(body) > MAX_BYTES:
        raise ValueError(f"{url} sent more than {MAX_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise ValueError(f"{urlsplit(url).path} is not JSON") from None


def _describe(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"{urlsplit(exc.response.url).path} answered HTTP {exc.response.status_code}"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return type(exc).__name__
