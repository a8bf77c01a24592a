"""`relay check -c relay.toml`: verify a configuration before going live, as a printed checklist.

Two halves. `gather()` (here) talks to the instances (Mastodon.py for the API, plain HTTP for public
endpoints, every request with a timeout) and records what it saw as frozen `*Facts`, turning every
network or API error into text. `relay.cli.checklist.decide()` is pure: facts in, one `Item` per line
out, each ✓ (ok), ! (warning: does not fail), ✗ (fails, with the fix) or - (skipped: an earlier
item failed). The exit code is 0 without a ✗; 2 when a ✗ is about the configuration or a token (as
everywhere in relay: "do not restart"); 1 otherwise. No token is ever printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import requests
from mastodon import Mastodon, MastodonAPIError, MastodonError, MastodonNotFoundError
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.sync.client import connect as ws_connect

from relay import __version__
from relay.cli.checklist import (
    AccountFacts,
    AnchorFacts,
    Facts,
    InstanceFacts,
    ModeratorFacts,
    SourceFacts,
    StateFacts,
    TokenFacts,
    config_error_item,
    decide,
    exit_code,
    render_json,
    render_text,
)
from relay.config.credentials import read_token
from relay.config.load import AnchorConfig, Config, InstanceConfig, add_config_option, load_config
from relay.core.accounts import AccountId
from relay.core.transport import Plan, choose
from relay.errors import ConfigError, CredentialsError, RelayError
from relay.moderation.lookup import find_account
from relay.sources.access import feeds_access
from relay.sources.anchors import AnchorUnreadable, read_context, resolve_anchor
from relay.sources.client import mastodon_client
from relay.sources.nodeinfo import detect
from relay.sources.stream import streaming_base, websocket_base
from relay.store.store import Store

__all__ = ["REQUEST_TIMEOUT", "add_arguments", "gather", "run"]

REQUEST_TIMEOUT = 10.0  # seconds, for every request check makes


# ---- gather: the I/O --------------------------------------------------------------------------


class _Http:
    """One requests session and one timeout for every call; errors become text without tokens."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"relay/{__version__} check"
        self.secrets: list[str] = []

    def api(self, url: str, token: str | None) -> Mastodon:
        if token:
            self.secrets.append(token)
        return mastodon_client(url, token, timeout=self.timeout, session=self.session)

    def get_json(self, url: str, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.session.get(url, headers=headers, timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def describe(self, exc: BaseException) -> str:
        """A short, token-free description of a failed request."""
        if isinstance(exc, MastodonAPIError) and len(exc.args) >= 4:
            text = f"HTTP {exc.args[1]}: {exc.args[3] or exc.args[2]}"
        elif isinstance(exc, requests.HTTPError) and exc.response is not None:
            try:
                message = exc.response.json().get("error") or exc.response.reason
            except (ValueError, AttributeError):
                message = exc.response.reason
            text = f"HTTP {exc.response.status_code}: {message}"
        elif isinstance(exc, requests.RequestException | MastodonError):
            text = _root_cause(exc)
        else:
            text = f"{type(exc).__name__}: {exc}"
        for secret in self.secrets:
            text = text.replace(secret, "[token]")
        return text


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return (str(exc) or type(exc).__name__)[:200]


def _rejected(exc: BaseException) -> bool:
    """401/403/422: the server refused the token itself (revoked, lacking a scope, not a user's)."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code in (401, 403, 422)
    return isinstance(exc, MastodonAPIError) and len(exc.args) > 1 and exc.args[1] in (401, 403, 422)


def gather_instance(
    http: _Http, config: InstanceConfig, token: str | None = None, hashtag: str | None = None
) -> InstanceFacts:
    """What the instance is and says, how the relay will read it (its plan), and whether that
    works: the stream the plan reads, and (with `hashtag`) the hashtag feed the way the relay reads it."""
    url, host = config.url, config.host
    try:
        info = _instance_json(http, url)
    except (requests.RequestException, ValueError) as exc:
        return InstanceFacts(host=host, error=http.describe(exc))
    found = detect(url, session=http.session, timeout=http.timeout)
    conf = info.get("configuration") or {}
    feeds = (conf.get("timelines_access") or {}).get("hashtag_feeds")
    plan = choose(found.kind, override=config.transport, token=token is not None).first
    facts = InstanceFacts(
        host=host,
        domain=str(info.get("domain") or info.get("uri") or host),
        version=str(info.get("version") or ""),
        hashtag_feeds=dict(feeds) if isinstance(feeds, dict) else None,
        kind=found.kind,
        kind_error=found.error,
        plan=plan,
        streaming_error=_stream_error(http, streaming_base(info, url), plan, token),
    )
    if hashtag is None:
        return facts
    feed_error, feed_fix = _feed_error(http, facts, url, token, hashtag)
    return replace(facts, feed_error=feed_error, feed_fix=feed_fix)


def _instance_json(http: _Http, url: str) -> Any:
    """`/api/v2/instance`, or `/api/v1/instance` where there is no v2 (older Pleroma, Akkoma)."""
    try:
        info = http.get_json(f"{url}/api/v2/instance")
    except requests.HTTPError as exc:
        if exc.response is None or exc.response.status_code != 404:
            raise
        info = http.get_json(f"{url}/api/v1/instance")
    if not isinstance(info, dict):
        raise ValueError("the instance JSON is not an object")
    return info


def _stream_error(http: _Http, base: str, plan: Plan, token: str | None) -> str | None:
    """Why the stream `plan` reads does not answer (None: it does, or the plan reads none)."""
    if plan.method == "sse":
        try:
            response = http.session.get(f"{base}/api/v1/streaming/health", timeout=http.timeout)
        except requests.RequestException as exc:
            return http.describe(exc)
        if response.status_code != 200 or response.text.strip() != "OK":
            return f"HTTP {response.status_code}: {response.text.strip()[:80]!r}"
        return None
    if plan.method != "websocket" or token is None:
        return None
    query = {"stream": "user"}
    headers = {"User-Agent": str(http.session.headers["User-Agent"])}
    if plan.ws_auth == "query":
        query["access_token"] = token
    else:
        headers["Authorization"] = f"Bearer {token}"
    try:  # the upgrade is all there is to check: the socket is closed at once
        with ws_connect(
            f"{websocket_base(base)}/api/v1/streaming?{urlencode(query)}",
            additional_headers=headers,
            open_timeout=http.timeout,
            close_timeout=1,
        ):
            return None
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            return f"the WebSocket upgrade refused the token: HTTP {status}"
        return f"the WebSocket upgrade was refused: HTTP {status}"
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        return http.describe(exc)


def _feed_error(
    http: _Http, facts: InstanceFacts, url: str, token: str | None, hashtag: str
) -> tuple[str | None, str | None]:
    """Why the relay could not read `hashtag` from this instance the way it will (None: it can).

    With a token, or where the instance lets anonymous readers poll, the REST tag timeline; else
    its RSS feed, which must be RSS (GoToSocial answers 200 with an HTML page)."""
    tag = quote(hashtag, safe="")
    feeds = facts.hashtag_feeds or {}
    if token is not None or feeds_access(feeds.get("local", "public"), feeds.get("remote", "public")).poll:
        try:
            http.get_json(f"{url}/api/v1/timelines/tag/{tag}?limit=1", token)
        except (requests.RequestException, ValueError) as exc:
            what = "with the relay's token" if token else "without a token"
            fix = None if token else f"give the relay a token for {facts.host} (token_file) to read its feed"
            return f"#{hashtag}'s timeline cannot be read {what} ({http.describe(exc)})", fix
        return None, None
    try:
        response = http.session.get(f"{url}/tags/{tag}.rss", timeout=http.timeout)
    except requests.RequestException as exc:
        return f"#{hashtag}'s RSS feed cannot be read ({http.describe(exc)})", None
    if response.status_code != 200:
        return f"#{hashtag}'s RSS feed answered HTTP {response.status_code}", None
    if "<rss" not in response.text[:2048]:
        kind = response.headers.get("Content-Type", "?").split(";")[0]
        return f"/tags/{tag}.rss is not an RSS feed ({kind})", None
    return None, None


def _token(instance: InstanceConfig, environ: Mapping[str, str] | None) -> tuple[str | None, TokenFacts]:
    try:
        token = read_token(instance, environ=environ)
    except CredentialsError as exc:
        return None, TokenFacts(present=True, error=exc.message, fix=exc.fix, rejected=True)
    return token, TokenFacts(present=token is not None)


def gather_account(http: _Http, config: Config, home: InstanceFacts, token: str) -> AccountFacts:
    """Raises MastodonError when verify_credentials fails; everything after it is recorded."""
    api = http.api(config.home.url, token)
    me = api.account_verify_credentials()
    source = me.get("source") or {}
    scopes, scopes_of = _scopes(http, api, config.home.url, token)
    policy: dict[str, str] | None = None
    policy_error = None
    try:
        policy = {k: str(v) for k, v in api.notifications_policy().items() if k.startswith("for_")}
    except MastodonNotFoundError:
        policy = None
    except MastodonError as exc:
        policy_error = http.describe(exc)
    return AccountFacts(
        acct=f"{me['acct'].partition('@')[0]}@{home.domain}",
        bot=bool(me.get("bot")),
        languages_known="chosen_languages" in source,
        chosen_languages=tuple(source.get("chosen_languages") or ()),
        scopes=scopes,
        scopes_of=scopes_of,
        policy=policy,
        policy_error=policy_error,
        moderators=tuple(_moderators(http, api, config.moderation.moderators, home.domain)),
    )


def _scopes(http: _Http, api: Mastodon, url: str, token: str) -> tuple[tuple[str, ...] | None, str]:
    """The token's own scopes (/oauth/token/info), else its app's registered scopes (Mastodon 4.3+)."""
    try:
        info = http.get_json(f"{url}/oauth/token/info", token)
        granted = info.get("scope", info.get("scopes"))
        if granted is not None:
            return tuple(granted.split() if isinstance(granted, str) else granted), "token"
    except (requests.RequestException, ValueError, AttributeError):
        pass
    try:
        scopes = api.app_verify_credentials().get("scopes")
    except MastodonError:
        return None, "token's app"
    return (tuple(scopes) if scopes is not None else None), "token's app"


def _moderators(http: _Http, api: Mastodon, handles: Sequence[str], domain: str) -> list[ModeratorFacts]:
    found: dict[str, str] = {}  # handle → account id on home
    facts: dict[str, ModeratorFacts] = {}
    for handle in handles:
        try:
            account = find_account(api, handle, domain)
        except MastodonError as exc:
            facts[handle] = ModeratorFacts(handle, error=http.describe(exc))
            continue
        if account is None:
            facts[handle] = ModeratorFacts(handle)
        elif not AccountId.of(account).id:
            facts[handle] = ModeratorFacts(handle, found=True, recognisable=AccountId.of(account).known)
        else:
            found[handle] = str(account["id"])
    relations: dict[str, Any] = {}
    if found:
        try:
            relations = {str(r["id"]): r for r in api.account_relationships(list(found.values()))}
        except MastodonError as exc:
            error = http.describe(exc)
            facts.update({h: ModeratorFacts(h, found=True, error=error) for h in found})
            found = {}
    for handle, account_id in found.items():
        rel = relations.get(account_id) or {}
        following, followed_by = bool(rel.get("following")), bool(rel.get("followed_by"))
        facts[handle] = ModeratorFacts(handle, found=True, following=following, followed_by=followed_by)
    return [facts[h] for h in handles]


def gather_source(
    http: _Http, source: InstanceConfig, tag: str, environ: Mapping[str, str] | None
) -> SourceFacts:
    token, token_facts = _token(source, environ)
    if token:
        http.secrets.append(token)
    # A token's feed read is the token check below; a tokenless source's feed is read as the relay will.
    instance = gather_instance(http, source, token, None if token else tag)
    if token and not instance.error:
        http.secrets.append(token)
        try:  # what a source's token is for: reading the hashtag feed
            http.get_json(f"{source.url}/api/v1/timelines/tag/{quote(tag, safe='')}?limit=1", token)
        except (requests.RequestException, ValueError) as exc:
            rejected = _rejected(exc)
            error = ("token rejected: " if rejected else "") + http.describe(exc)
            fix = None if rejected else "check that the instance is up, then run relay check again"
            token_facts = TokenFacts(present=True, error=error, rejected=rejected, fix=fix)
    return SourceFacts(instance, token_facts)


def gather_anchor(http: _Http, anchor: AnchorConfig, token: str | None) -> AnchorFacts:
    """Read the anchor as `relay run` does: find it on its own server, then read its context once."""
    facts = AnchorFacts(anchor.url, anchor.replies, anchor.interval, token is not None)
    api = http.api(anchor.base_url, token)
    try:
        status_id, original = resolve_anchor(api, anchor, token=token is not None)
        read = read_context(api, anchor, status_id, token=token is not None)
    except AnchorUnreadable as exc:
        return dataclasses.replace(facts, error=str(exc), fix=exc.fix)
    except (MastodonError, requests.RequestException) as exc:
        fix = f"check that {anchor.host} is up, then run relay check again"
        return dataclasses.replace(facts, error=http.describe(exc), fix=fix)
    return dataclasses.replace(
        facts,
        status_id=status_id,
        replies=len(read.replies),
        descendants=read.descendants,
        limited=read.limited,
        original=original,
    )


def gather_state(path: Path) -> StateFacts:
    if not path.exists():
        folder = path.parent
        if not folder.is_dir():
            return StateFacts(str(path), False, f"folder {folder} does not exist", f"mkdir -p {folder}")
        if not os.access(folder, os.W_OK | os.X_OK):
            error = f"the relay cannot create {path.name} in {folder}"
            return StateFacts(str(path), False, error, "let the relay's user write to that folder")
        return StateFacts(str(path), False)
    try:
        Store.open(path).close()  # exactly what `relay run` does at start (migrating an older file)
    except RelayError as exc:
        return StateFacts(str(path), True, exc.message, exc.fix)
    return StateFacts(str(path), True)


def gather(
    config: Config, *, environ: Mapping[str, str] | None = None, timeout: float = REQUEST_TIMEOUT
) -> Facts:
    http = _Http(timeout)
    token, token_facts = _token(config.home, environ)
    if token:
        http.secrets.append(token)
    home = gather_instance(http, config.home, token, config.hashtags[0])
    account = None
    if token and not home.error:
        try:
            account = gather_account(http, config, home, token)
        except MastodonError as exc:
            rejected = _rejected(exc)
            error = (
                f"{config.home.host} {'rejected the token' if rejected else 'failed'}: {http.describe(exc)}"
            )
            token_facts = TokenFacts(present=True, error=error, rejected=rejected)
    sources = tuple(gather_source(http, s, config.hashtags[0], environ) for s in config.sources)
    tokens = {config.home.host: token if not token_facts.error else None}
    for source_config, source_facts in zip(config.sources, sources, strict=True):
        if source_facts.token.present and not source_facts.token.error:
            tokens[source_config.host] = _token(source_config, environ)[0]
    anchors = tuple(gather_anchor(http, a, tokens.get(a.host)) for a in config.anchors)
    return Facts(config, home, token_facts, account, sources, gather_state(config.state), anchors)


# ---- command --------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser, help="relay.toml (default: ./relay.toml)")
    parser.add_argument("--json", action="store_true", help="print the items as JSON")
    parser.add_argument(
        "--timeout", type=float, default=REQUEST_TIMEOUT, metavar="SECONDS",
        help=f"per request (default {REQUEST_TIMEOUT:g})",
    )  # fmt: skip
    parser.epilog = "exit status: 0 no ✗; 1 a ✗; 2 a ✗ in the configuration or a token (as `relay run`)"


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        items = [config_error_item(exc)]
    else:
        items = decide(gather(config, timeout=args.timeout))
    print(render_json(args.config, items) if args.json else render_text(args.config, items))
    sys.stdout.flush()
    return exit_code(items)
