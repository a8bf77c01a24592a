"""One instance's in-memory database and the operations on it (post, edit, delete, reblog, ...).

Every public method must be called with the Fediverse lock held (``InstanceState.lock``); the HTTP
layer and the ``Instance`` facade take it. Side effects on other instances go through the
``Network`` (``relay.sandbox.federation``) and on open streams through the ``StreamHub``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from relay.sandbox import quotes
from relay.sandbox import text as textmod
from relay.sandbox.flavours import MASTODON, Flavour
from relay.sandbox.model import (
    ALL_SCOPES,
    SNOWFLAKES,
    Account,
    App,
    AuthCode,
    Collection,
    Conversation,
    Notification,
    NotificationPolicy,
    Status,
    Token,
    ulid_from,
    utcnow,
)

if TYPE_CHECKING:
    from relay.sandbox.federation import Network
    from relay.sandbox.streaming import StreamHub

log = structlog.get_logger()


class SandboxError(Exception):
    """A request the instance refuses; becomes ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


NOT_FOUND = "Not Found"  # Mastodon 4.6 (status_missing.yaml); older versions said "Record not found"
NOT_ALLOWED = "This action is not allowed"


@dataclass(frozen=True, slots=True)
class ReblogRecord:
    """One reblog the instance created: who boosted which status (by ``uri``), and when.

    Kept after the reblog is undone or its status deleted, so a test can tell a post boosted twice
    (boosted, unboosted, boosted again) from one boosted once, which the statuses alone cannot.
    """

    account_id: str
    uri: str
    at: datetime


@dataclass(eq=False)
class InstanceState:
    name: str
    lock: threading.RLock
    network: Network
    url: str = ""
    flavour: Flavour = MASTODON
    hashtag_feeds: dict[str, str] = field(default_factory=lambda: {"local": "public", "remote": "public"})
    hub: StreamHub | None = None
    logged_in: Account | None = None
    accounts: dict[str, Account] = field(default_factory=dict)
    statuses: dict[str, Status] = field(default_factory=dict)
    follows: set[tuple[str, str]] = field(default_factory=set)
    followed_tags: set[tuple[str, str]] = field(default_factory=set)  # (account id, normalized tag)
    notifications: list[Notification] = field(default_factory=list)
    policies: dict[str, NotificationPolicy] = field(default_factory=dict)
    conversations: list[Conversation] = field(default_factory=list)
    apps: dict[str, App] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    reblogs_made: list[ReblogRecord] = field(default_factory=list)  # every reblog created, ever
    collections: dict[str, Collection] = field(default_factory=dict)  # Mastodon 4.6 Collections
    # Idempotency-Key of POST /api/v1/statuses: (account id, key) -> (status id, when it expires),
    # kept an hour as Mastodon keeps it (PostStatusService, in Redis).
    idempotency: dict[tuple[str, str], tuple[str, datetime]] = field(default_factory=dict)
    _counter: int = 0

    # ---- identity -------------------------------------------------------------------------

    @property
    def domain(self) -> str:
        return self.url.removeprefix("http://")

    @property
    def streaming_url(self) -> str:
        """What the instance API announces; GoToSocial says ``wss://`` though it serves plain HTTP."""
        return f"{self.flavour.streaming_scheme}://{self.domain}"

    def new_id(self) -> str:
        """A new account, status or reblog id: a snowflake, or on GoToSocial a ULID."""
        number = SNOWFLAKES.next()
        return ulid_from(number) if self.flavour.ulid_ids else number

    def shown_id(self, small_id: int) -> str:
        """A notification's or conversation's id as the API shows it."""
        return ulid_from(str(small_id)) if self.flavour.ulid_ids else str(small_id)

    def next_small_id(self) -> int:
        self._counter += 1
        return self._counter

    # ---- accounts -------------------------------------------------------------------------

    def create_account(self, username: str, **profile: object) -> Account:
        if self.local_account(username) is not None:
            raise ValueError(f"account {username!r} already exists on {self.name}")
        acc_id = self.new_id()
        acc = Account(
            id=acc_id,
            username=username,
            domain=None,
            uri=f"{self.url}/ap/users/{acc_id}",
            url=f"{self.url}/@{username}",
            **profile,  # type: ignore[arg-type]
        )
        if acc.created_at is None:
            acc.created_at = utcnow()
        self.accounts[acc.id] = acc
        log.debug("sandbox.account_created", instance=self.name, acct=acc.acct)
        return acc

    def local_account(self, username: str) -> Account | None:
        for acc in self.accounts.values():
            if acc.domain is None and acc.username.lower() == username.lower():
                return acc
        return None

    def account_by_uri(self, uri: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.uri == uri), None)

    def find_account(self, acct: str) -> Account | None:
        """``user``, ``@user``, ``user@this-domain`` or ``user@peer-domain`` (fetched if needed)."""
        username, _, domain = acct.lstrip("@").partition("@")
        if not domain or domain == self.domain:
            return self.local_account(username)
        for acc in self.accounts.values():
            if acc.domain == domain and acc.username.lower() == username.lower():
                return acc
        origin = self.network.lookup_account(domain, username)
        return self.ensure_copy(origin) if origin is not None else None

    def ensure_copy(self, origin: Account) -> Account:
        """The local record for a peer's account (created on first sight) or the account itself."""
        if origin.uri.startswith(self.url + "/"):
            found = self.account_by_uri(origin.uri)
            assert found is not None
            return found
        existing = self.account_by_uri(origin.uri)
        if existing is None:
            existing = Account(
                id=self.new_id(),
                username=origin.username,
                domain=origin.uri.split("/")[2],
                uri=origin.uri,
                url=origin.url,
                created_at=origin.created_at,
            )
            self.accounts[existing.id] = existing
        for attr in (
            "display_name",
            "note",
            "bot",
            "group",
            "locked",
            "indexable",
            "fields",
            "feature_approval",
        ):
            setattr(existing, attr, getattr(origin, attr))
        return existing

    def local_account_count(self) -> int:
        return sum(1 for a in self.accounts.values() if a.domain is None)

    def following_of(self, acc: Account) -> list[Account]:
        return [self.accounts[t] for f, t in self.follows if f == acc.id]

    def followers_of(self, acc: Account) -> list[Account]:
        return [self.accounts[f] for f, t in self.follows if t == acc.id]

    def follows_account(self, follower: Account, target: Account) -> bool:
        return (follower.id, target.id) in self.follows

    # ---- hashtags -------------------------------------------------------------------------

    def follow_tag(self, acc: Account, tag: str) -> None:
        self.followed_tags.add((acc.id, textmod.normalize_tag(tag)))

    def unfollow_tag(self, acc: Account, tag: str) -> None:
        self.followed_tags.discard((acc.id, textmod.normalize_tag(tag)))

    def tags_followed_by(self, acc: Account) -> list[str]:
        return sorted(tag for who, tag in self.followed_tags if who == acc.id)

    def follow(self, follower: Account, target: Account) -> None:
        if (follower.id, target.id) in self.follows:
            return
        self.follows.add((follower.id, target.id))
        if target.domain is None:
            self.notify(target, "follow", follower, None)
        else:
            self.network.deliver_follow(self, follower, target)

    def unfollow(self, follower: Account, target: Account) -> None:
        self.follows.discard((follower.id, target.id))

    def policy(self, acc: Account) -> NotificationPolicy:
        return self.policies.setdefault(acc.id, NotificationPolicy())

    # ---- apps and tokens ------------------------------------------------------------------

    def create_app(
        self, name: str, scopes: Iterable[str], redirect_uris: Iterable[str], website: str | None
    ) -> App:
        application = App(
            id=str(len(self.apps) + 1),
            name=name,
            website=website,
            redirect_uris=tuple(redirect_uris),
            scopes=tuple(scopes),
            client_id=secrets.token_urlsafe(32),
            client_secret=secrets.token_urlsafe(32),
        )
        self.apps[application.client_id] = application
        return application

    def default_app(self) -> App:
        for application in self.apps.values():
            if application.name == "relay sandbox":
                return application
        return self.create_app("relay sandbox", ALL_SCOPES, ["urn:ietf:wg:oauth:2.0:oob"], None)

    def create_token(self, account: Account | None, scopes: Iterable[str], app: App | None = None) -> Token:
        token = Token(
            value=secrets.token_urlsafe(32),
            app=app or self.default_app(),
            account=account,
            scopes=frozenset(scopes),
        )
        self.tokens[token.value] = token
        return token

    def create_code(self, app: App, account: Account, scopes: Iterable[str], redirect_uri: str) -> str:
        code = secrets.token_urlsafe(24)
        self.codes[code] = AuthCode(code, app, account, frozenset(scopes), redirect_uri)
        return code

    def revoke(self, token_value: str) -> None:
        token = self.tokens.get(token_value)
        if token is not None and not token.revoked:
            token.revoked = True
            if self.hub is not None:
                self.hub.close_token(token_value)

    # ---- statuses -------------------------------------------------------------------------

    def status_by_uri(self, uri: str) -> Status | None:
        return next((s for s in self.statuses.values() if s.uri == uri), None)

    def status_by_url(self, url: str) -> Status | None:
        return next((s for s in self.statuses.values() if url in (s.url, s.uri)), None)

    def visible(self, st: Status, viewer: Account | None) -> bool:
        if st.visibility in ("public", "unlisted"):
            return True
        if viewer is None:
            return False
        if viewer is st.account or viewer in st.mentions:
            return True
        return st.visibility == "private" and self.follows_account(viewer, st.account)

    def get_status(self, status_id: str, viewer: Account | None) -> Status:
        st = self.statuses.get(status_id)
        if st is None or not self.visible(st, viewer):
            raise SandboxError(404, NOT_FOUND)
        return st

    def _mention_link(self, ref: textmod.MentionRef) -> textmod.MentionLink | None:
        acc = self.find_account(ref.username if ref.domain is None else f"{ref.username}@{ref.domain}")
        return None if acc is None else textmod.MentionLink(acc.username, acc.url)

    def _render(self, st: Status) -> None:
        st.content = textmod.render_html(st.text, self.url, self._mention_link)
        st.tags = textmod.find_hashtags(st.text)
        refs = textmod.find_mentions(st.text)
        found = [
            self.find_account(r.username if r.domain is None else f"{r.username}@{r.domain}") for r in refs
        ]
        st.mentions = [a for a in found if a is not None]

    def post_status(
        self,
        author: Account,
        text: str,
        *,
        visibility: str = "public",
        in_reply_to: Status | None = None,
        spoiler_text: str = "",
        sensitive: bool = False,
        language: str | None = None,
        application: str | None = None,
        quoted: Status | None = None,
        quote_policy: str | None = None,
    ) -> Status:
        if not text.strip():
            raise SandboxError(422, "Validation failed: Text can't be blank")
        if len(text) > 500:
            raise SandboxError(422, "Validation failed: Text character limit of 500 exceeded")
        status_id = self.new_id()
        st = Status(
            id=status_id,
            uri=f"{author.uri}/statuses/{status_id}",
            url=f"{self.url}/@{author.username}/{status_id}",
            account=author,
            text=text,
            content="",
            visibility=visibility,
            created_at=utcnow(),
            local=True,
            spoiler_text=spoiler_text,
            sensitive=sensitive or bool(spoiler_text),
            language=language or author.language or "en",
            in_reply_to=in_reply_to,
            application=application,
            quote=None if quoted is None else quotes.attach(self, author, quoted),
            quote_policy=quote_policy or author.quote_policy,
        )
        self._render(st)
        self._store_new(st)
        self.network.deliver_create(self, st)
        quotes.after_post(self, st)
        log.info("sandbox.status_posted", instance=self.name, id=st.id, visibility=visibility)
        return st

    def import_status(self, origin: Status) -> Status:
        """Store (or return the existing) local copy of a peer's status; same ``uri``, new id."""
        existing = self.status_by_uri(origin.uri)
        if existing is not None:
            return existing
        st = Status(
            id=self.new_id(),
            uri=origin.uri,
            url=origin.url,
            account=self.ensure_copy(origin.account),
            text=origin.text,
            content=origin.content,
            visibility=origin.visibility,
            created_at=origin.created_at,
            local=False,
            spoiler_text=origin.spoiler_text,
            sensitive=origin.sensitive,
            language=origin.language,
            in_reply_to=self.status_by_uri(origin.in_reply_to.uri) if origin.in_reply_to else None,
            mentions=[self.ensure_copy(m) for m in origin.mentions],
            tags=list(origin.tags),
            edited_at=origin.edited_at,
            quote=quotes.copy_quote(self, origin),
            quote_policy=origin.quote_policy,
        )
        self._store_new(st)
        return st

    def _store_new(self, st: Status) -> None:
        self.statuses[st.id] = st
        for mentioned in st.mentions:
            if mentioned.domain is None and mentioned is not st.account:
                self.notify(mentioned, "mention", st.account, st)
        if st.visibility == "direct":
            self._update_conversations(st)
        if self.hub is not None:
            self.hub.status_created(st)

    def _update_conversations(self, st: Status) -> None:
        people = [st.account, *st.mentions]
        for owner in people:
            if owner.domain is not None:
                continue
            others = [p for p in people if p is not owner]
            conv = next(
                (
                    c
                    for c in self.conversations
                    if c.owner is owner and {a.id for a in c.participants} == {a.id for a in others}
                ),
                None,
            )
            if conv is None:
                conv = Conversation(self.next_small_id(), owner, others, st)
                self.conversations.append(conv)
            conv.last_status = st
            conv.unread = owner is not st.account
            if self.hub is not None:
                self.hub.conversation(conv)

    def edit_status(
        self,
        st: Status,
        text: str,
        *,
        spoiler_text: str | None = None,
        sensitive: bool | None = None,
        language: str | None = None,
    ) -> Status:
        st.text = text
        if spoiler_text is not None:
            st.spoiler_text = spoiler_text
        if sensitive is not None:
            st.sensitive = sensitive
        if language is not None:
            st.language = language
        st.edited_at = utcnow()
        self._render(st)
        if self.hub is not None:
            self.hub.status_updated(st)
        self.network.deliver_update(self, st)
        quotes.quoted_edited(self, st)
        return st

    def apply_remote_edit(self, origin: Status) -> None:
        st = self.status_by_uri(origin.uri)
        if st is None:
            return
        st.text, st.content, st.tags = origin.text, origin.content, list(origin.tags)
        st.spoiler_text, st.sensitive, st.language = (origin.spoiler_text, origin.sensitive, origin.language)
        st.edited_at = origin.edited_at
        st.mentions = [self.ensure_copy(m) for m in origin.mentions]
        if self.hub is not None:
            self.hub.status_updated(st)
        quotes.quoted_edited(self, st)

    def delete_status(self, st: Status) -> None:
        """Remove a status, its reblogs and its notifications; tell streams and peers."""
        for other in [s for s in self.statuses.values() if s.reblog is st]:
            self._remove(other)
        self._remove(st)
        quotes.quoted_deleted(self, st)
        if st.local:
            self.network.deliver_delete(self, st)

    def apply_remote_delete(self, uri: str) -> None:
        st = self.status_by_uri(uri)
        if st is not None:
            self.delete_status(st)

    def _remove(self, st: Status) -> None:
        self.statuses.pop(st.id, None)
        self.notifications = [n for n in self.notifications if n.status is not st]
        if self.hub is not None:
            self.hub.status_deleted(st)

    def reblog_of(self, acc: Account, target: Status) -> Status | None:
        return next((s for s in self.statuses.values() if s.reblog is target and s.account is acc), None)

    def reblog(self, acc: Account, target: Status, visibility: str = "public") -> Status:
        """Boost ``target``; boosting again returns the existing reblog (as Mastodon does)."""
        target = target.reblog or target
        if target.visibility == "direct" or (target.visibility == "private" and target.account is not acc):
            raise SandboxError(403, NOT_ALLOWED)
        existing = self.reblog_of(acc, target)
        if existing is not None:
            return existing
        if target.visibility == "private":
            visibility = "private"
        elif visibility == "direct":  # Status validates: a reblog is never direct (or limited)
            raise SandboxError(422, "Validation failed: Visibility is reserved")
        reblog_id = self.new_id()
        st = Status(
            id=reblog_id,
            uri=f"{acc.uri}/statuses/{reblog_id}/activity",
            url=f"{self.url}/users/{acc.username}/statuses/{reblog_id}/activity",
            account=acc,
            text="",
            content="",
            visibility=visibility,
            created_at=utcnow(),
            local=True,
            reblog=target,
        )
        st.language = None
        self.statuses[st.id] = st
        self.reblogs_made.append(ReblogRecord(acc.id, target.uri, st.created_at))
        if target.account.domain is None and target.account is not acc:
            self.notify(target.account, "reblog", acc, target)
        if self.hub is not None:
            self.hub.status_created(st)
        return st

    def unreblog(self, acc: Account, target: Status) -> Status:
        target = target.reblog or target
        existing = self.reblog_of(acc, target)
        if existing is not None:
            self._remove(existing)
        return target

    def replies_count(self, st: Status) -> int:
        return sum(1 for s in self.statuses.values() if s.in_reply_to is st)

    def reblogs_count(self, st: Status) -> int:
        return sum(1 for s in self.statuses.values() if s.reblog is st)

    def statuses_count(self, acc: Account) -> int:
        return sum(1 for s in self.statuses.values() if s.account is acc)

    def last_status_at(self, acc: Account) -> datetime | None:
        times = [s.created_at for s in self.statuses.values() if s.account is acc]
        return max(times) if times else None

    def local_status_count(self) -> int:
        return sum(1 for s in self.statuses.values() if s.local)

    # ---- notifications --------------------------------------------------------------------

    def notify(
        self, recipient: Account, kind: str, sender: Account, st: Status | None
    ) -> Notification | None:
        """Create a notification unless the recipient's policy drops it; filtered ones are hidden."""
        verdict = "accept"
        private = kind == "mention" and st is not None and st.visibility == "direct"
        if private and not self.follows_account(recipient, sender):
            verdict = self.policy(recipient).for_private_mentions
        if verdict == "drop":
            return None
        note = Notification(self.next_small_id(), kind, recipient, sender, st, filtered=verdict == "filter")
        self.notifications.append(note)
        if not note.filtered and self.hub is not None:
            self.hub.notification(note)
        return note

    def notifications_for(self, acc: Account) -> list[Notification]:
        return [n for n in self.notifications if n.recipient is acc and not n.filtered]
