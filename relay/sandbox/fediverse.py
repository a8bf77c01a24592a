"""The public face of the sandbox: ``Fediverse`` (several instances, one per name) and ``Instance``.

with Fediverse(["home", "remote"], heartbeat=0.2) as fed:
    alice = fed["home"].create_account("alice")
    fed.partition("home", "remote")
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType

import structlog

from relay.sandbox import quotes
from relay.sandbox.api_collections import answer_feature_requests
from relay.sandbox.faults import Faults, Gate, RecordedRequest
from relay.sandbox.federation import Network
from relay.sandbox.flavours import MASTODON, Flavour, flavour_named
from relay.sandbox.model import ALL_SCOPES, FEED_ACCESS, POLICY_VALUES, Collection, SeededAccount
from relay.sandbox.quotes import QUOTE_POLICIES
from relay.sandbox.ratelimit import RateLimiter, RateLimits
from relay.sandbox.server import SandboxHTTPServer
from relay.sandbox.state import InstanceState
from relay.sandbox.streaming import DEFAULT_MALFORMED, StreamHub

log = structlog.get_logger()


class Instance:
    """One Mastodon-compatible instance listening on ``127.0.0.1`` (port 0 picks a free one)."""

    def __init__(
        self,
        name: str,
        network: Network,
        lock: threading.RLock,
        *,
        heartbeat: float,
        rate_limits: RateLimits,
        port: int = 0,
        flavour: Flavour = MASTODON,
        ping_interval: float | None = None,
    ) -> None:
        self.name = name
        self.lock = lock
        self.state = InstanceState(name=name, lock=lock, network=network, flavour=flavour)
        self.hub = StreamHub(self.state, heartbeat, ping_interval)
        self.state.hub = self.hub
        self.faults = Faults()
        self.limiter = RateLimiter(rate_limits)
        self._server = SandboxHTTPServer(self.state, self.hub, self.limiter, self.faults, port)
        self.state.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None
        self._stopped = False

    # ---- addresses ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.state.url

    @property
    def domain(self) -> str:
        return self.state.domain

    @property
    def flavour(self) -> Flavour:
        return self.state.flavour

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        if self._stopped:
            raise RuntimeError(f"instance {self.name} was stopped; start a new Fediverse")
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=f"sandbox-{self.name}", daemon=True
        )
        self._thread.start()
        log.info("sandbox.instance_started", instance=self.name, url=self.url)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.faults.clear()  # release held requests
        if self._thread is None:  # never served: nothing to shut down but the socket
            self._server.server_close()
            return
        self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        log.info("sandbox.instance_stopped", instance=self.name)

    # ---- seeding --------------------------------------------------------------------------

    def create_account(
        self,
        username: str,
        *,
        display_name: str = "",
        note: str = "",
        bot: bool = False,
        group: bool = False,
        fields: Iterable[tuple[str, str]] = (),
        indexable: bool = False,
        locked: bool = False,
        created_at: datetime | None = None,
        language: str | None = None,
        chosen_languages: Sequence[str] | None = None,
    ) -> SeededAccount:
        """A local account plus a token with every scope."""
        with self.lock:
            profile: dict[str, object] = {
                "display_name": display_name,
                "note": note,
                "bot": bot,
                "group": group,
                "fields": tuple(fields),
                "indexable": indexable,
                "locked": locked,
                "language": language,
                "chosen_languages": tuple(chosen_languages) if chosen_languages else None,
            }
            if created_at is not None:
                profile["created_at"] = created_at
            acc = self.state.create_account(username, **profile)
            token = self.state.create_token(acc, ALL_SCOPES)
            return SeededAccount(
                acc.id, acc.username, f"{acc.username}@{self.domain}", acc.uri, acc.url, token.value
            )

    def set_feature_approval(self, account: SeededAccount, policy: str | None) -> None:
        """Whether `account` may be featured in Collections: "automatic", "manual", "denied", or
        None for Mastodon's rule (automatic when discoverable)."""
        with self.lock:
            self.state.accounts[account.id].feature_approval = policy

    def answer_feature_requests(self, account: SeededAccount, *, accept: bool = True) -> int:
        """`account` answers every pending request to feature it in a Collection (the member's
        "accept" in their app); how many it answered."""
        with self.lock:
            return answer_feature_requests(self.state, self.state.accounts[account.id], accept=accept)

    def collections(self) -> list[Collection]:
        """Every Collection on this instance (for tests to look at)."""
        with self.lock:
            return list(self.state.collections.values())

    def create_token(self, account: SeededAccount, scopes: Iterable[str] = ALL_SCOPES) -> str:
        with self.lock:
            return self.state.create_token(self.state.accounts[account.id], scopes).value

    def create_app_token(self, scopes: Iterable[str] = ("read",)) -> str:
        """A client-credentials token: an app without a user."""
        with self.lock:
            return self.state.create_token(None, scopes).value

    def log_in(self, account: SeededAccount | None) -> None:
        """Make ``/oauth/authorize`` auto-approve for this account (None: nobody logged in)."""
        with self.lock:
            self.state.logged_in = None if account is None else self.state.accounts[account.id]

    def authorize(
        self,
        account: SeededAccount,
        client_id: str,
        scopes: Iterable[str] = ("read",),
        redirect_uri: str = "urn:ietf:wg:oauth:2.0:oob",
    ) -> str:
        """An authorization code, as if ``account`` had approved the app in the browser."""
        with self.lock:
            app = self.state.apps[client_id]
            return self.state.create_code(app, self.state.accounts[account.id], scopes, redirect_uri)

    # ---- settings -------------------------------------------------------------------------

    def set_hashtag_feeds(self, *, local: str | None = None, remote: str | None = None) -> None:
        """``timelines_access.hashtag_feeds``: each ``public``, ``authenticated`` or ``disabled``."""
        with self.lock:
            for key, value in (("local", local), ("remote", remote)):
                if value is not None:
                    if value not in FEED_ACCESS:
                        raise ValueError(f"hashtag feed access must be one of {FEED_ACCESS}")
                    self.state.hashtag_feeds[key] = value

    def set_chosen_languages(self, account: SeededAccount, languages: Sequence[str] | None) -> None:
        """The account's language filter: its public/hashtag streams drop other languages."""
        with self.lock:
            self.state.accounts[account.id].chosen_languages = tuple(languages) if languages else None

    def set_notification_policy(self, account: SeededAccount, **policy: str) -> None:
        with self.lock:
            current = self.state.policy(self.state.accounts[account.id])
            for name, value in policy.items():
                if value not in POLICY_VALUES or not hasattr(current, name):
                    raise ValueError(f"bad notification policy {name}={value}")
                setattr(current, name, value)

    def follow(self, follower: SeededAccount, acct: str) -> None:
        """``follower`` follows ``acct`` (``user`` or ``user@domain``) as the API would."""
        with self.lock:
            target = self.state.find_account(acct)
            if target is None:
                raise KeyError(acct)
            self.state.follow(self.state.accounts[follower.id], target)

    def follow_tag(self, account: SeededAccount, tag: str) -> None:
        """``account`` follows hashtag ``tag`` (its public posts then reach the home timeline and
        the ``user`` stream), as ``POST /api/v1/tags/:name/follow`` does."""
        with self.lock:
            self.state.follow_tag(self.state.accounts[account.id], tag)

    def post(self, author: SeededAccount, text: str, **options: object) -> str:
        """Post a status as ``author`` (keyword options as the API); returns its id."""
        with self.lock:
            return self.state.post_status(self.state.accounts[author.id], text, **options).id  # type: ignore[arg-type]

    def quote(self, author: SeededAccount, text: str, quoted_id: str, **options: object) -> str:
        """Post a quote of status `quoted_id` (this instance's id) as ``author``; returns its id."""
        with self.lock:
            acc = self.state.accounts[author.id]
            quoted = self.state.get_status(quoted_id, acc)
            return self.state.post_status(acc, text, quoted=quoted, **options).id  # type: ignore[arg-type]

    def revoke_quote(self, author: SeededAccount, quoted_id: str, quoting_id: str) -> None:
        """``author`` revokes the quote `quoting_id` of their status `quoted_id` (ids on this instance)."""
        with self.lock:
            quoted = self.state.get_status(quoted_id, self.state.accounts[author.id])
            quotes.revoke(self.state, quoted, self.state.get_status(quoting_id, None))

    def delete(self, author: SeededAccount, status_id: str) -> None:
        """``author`` deletes their status `status_id`, as the API would."""
        with self.lock:
            st = self.state.get_status(status_id, self.state.accounts[author.id])
            if st.account.id != author.id:
                raise KeyError(status_id)
            self.state.delete_status(st)

    def set_quote_policy(self, account: SeededAccount, policy: str) -> None:
        """Who may quote ``account``'s new posts: "public", "followers" or "nobody"."""
        if policy not in QUOTE_POLICIES:
            raise ValueError(f"quote policy must be one of {QUOTE_POLICIES}")
        with self.lock:
            self.state.accounts[account.id].quote_policy = policy

    def status_uri(self, status_id: str) -> str:
        """The uri of this instance's status `status_id` (KeyError if it has none)."""
        with self.lock:
            return self.state.statuses[status_id].uri

    def status_id(self, uri: str) -> str | None:
        """This instance's id of the status `uri` (its own or a copy), or None."""
        with self.lock:
            st = self.state.status_by_uri(uri)
            return None if st is None else st.id

    # ---- fault switches -------------------------------------------------------------------

    def revoke_token(self, token: str) -> None:
        """401 on REST and streams from now on; open streams of this token are closed."""
        with self.lock:
            self.state.revoke(token)

    def drop_streams(self) -> None:
        """Cut every open stream now (no chunked terminator, as a dropped connection)."""
        self.hub.drop_all()

    def stall_streams(self, stalled: bool = True) -> None:
        """Keep streams open but send nothing, heartbeats included, until cleared."""
        if stalled:
            self.hub.stalled.set()
        else:
            self.hub.stalled.clear()

    def reorder_streams(self, hold: float | None) -> None:
        """Deliver events out of order, as Mastodon's real streaming server does (None: in order).

        With a `hold` in seconds, every stream gets `delete` events at once while each `update`
        and `status.update` waits between `hold` and twice `hold` (drawn per event and per
        subscriber, see `StreamHub.held_for`): a post deleted soon after it was published reaches
        each reader as its delete first, and posts published close together overtake each other.
        Events already held when the switch changes keep their time.
        """
        if hold is not None and not hold > 0:
            raise ValueError(f"hold must be a positive number of seconds or None, not {hold!r}")
        self.hub.hold = hold

    def send_malformed(self, raw: bytes = DEFAULT_MALFORMED) -> None:
        """Write ``raw`` bytes (by default a frame with broken JSON) on every open stream."""
        self.hub.inject(raw)

    def fail_next(
        self, count: int = 1, *, status: int = 503, path_prefix: str = "", reset_in: float = 1.0
    ) -> None:
        self.faults.fail_next(count, status=status, path_prefix=path_prefix, reset_in=reset_in)

    def set_latency(self, seconds: float) -> None:
        self.faults.set_latency(seconds)

    def gate(self, method: str, path: str, *, stage: str) -> Gate:
        """Hold the next `method` request to `path`: "before" it is processed (then dropped), or
        "after" (its answer dropped). A test kills its client while `gate.arrived`, then releases."""
        return self.faults.gate(method, path, stage)

    def open_streams(self) -> int:
        """How many streams are open: SSE responses and WebSocket channels (not sockets)."""
        return len(self.hub.channels())

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.faults.requests


def _flavour(kind: str | Flavour) -> Flavour:
    return kind if isinstance(kind, Flavour) else flavour_named(kind)


class Fediverse:
    """Several instances that federate with each other, all on loopback."""

    def __init__(
        self,
        names: Sequence[str] = ("home", "remote"),
        *,
        heartbeat: float = 15.0,
        rate_limits: RateLimits | None = None,
        instance_rate_limits: dict[str, RateLimits] | None = None,
        port_base: int | None = None,
        flavours: Mapping[str, str | Flavour] | None = None,
        ping_interval: float | None = None,
    ) -> None:
        """``flavours`` maps an instance name to the server it plays (``"gotosocial"``, or a
        ``Flavour`` for a version of your own); the others are Mastodon. ``ping_interval`` is the
        seconds between WebSocket pings (default: ``heartbeat``; Mastodon's is 30)."""
        if len(set(names)) != len(names) or not names:
            raise ValueError("instance names must be unique and not empty")
        kinds = dict(flavours or {})
        unknown = sorted(set(kinds) - set(names))
        if unknown:
            raise ValueError(f"flavours name unknown instance(s): {', '.join(unknown)}")
        self.lock = threading.RLock()
        self.network = Network()
        self.instances: dict[str, Instance] = {}
        per_instance = instance_rate_limits or {}
        for index, name in enumerate(names):
            instance = Instance(
                name,
                self.network,
                self.lock,
                heartbeat=heartbeat,
                rate_limits=per_instance.get(name, rate_limits or RateLimits()),
                port=0 if port_base is None else port_base + index,
                flavour=_flavour(kinds.get(name, MASTODON)),
                ping_interval=ping_interval,
            )
            self.instances[name] = instance
            self.network.add(instance.state)
        self._started = False

    def __getitem__(self, name: str) -> Instance:
        return self.instances[name]

    def __iter__(self) -> Iterator[Instance]:
        return iter(self.instances.values())

    def start(self) -> Fediverse:
        if not self._started:
            for instance in self:
                instance.start()
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            for instance in self:
                instance.stop()
            self._started = False

    def __enter__(self) -> Fediverse:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def partition(self, a: str, b: str) -> None:
        """Stop push federation between two instances (fetch by URL still works)."""
        with self.lock:
            self.network.partition(self[a].domain, self[b].domain)

    def heal(self, a: str, b: str) -> None:
        with self.lock:
            self.network.heal(self[a].domain, self[b].domain)
