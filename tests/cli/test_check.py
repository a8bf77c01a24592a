"""`relay check`: the pure checklist decisions, and the real command against a sandbox fediverse."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from mastodon import Mastodon
from relayproc import run_relay

from relay.cli.check import run
from relay.cli.checklist import (
    REQUIRED_SCOPES,
    AccountFacts,
    Facts,
    InstanceFacts,
    Item,
    ModeratorFacts,
    SourceFacts,
    StateFacts,
    Status,
    TokenFacts,
    decide,
    exit_code,
    missing_scopes,
    render_json,
    render_text,
)
from relay.cli.main import build_parser
from relay.config.credentials import write_token_file
from relay.config.load import Config, parse_config
from relay.core.servers import UNKNOWN, server_kind
from relay.core.transport import choose
from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.sources.access import access
from relay.store.store import Store

# ---- pure: facts → items ---------------------------------------------------------------------------

MODS = ("alice@home.example", "bob@remote.example")


def make_config(moderators: tuple[str, ...] = MODS, sources: int = 1) -> Config:
    doc = {
        "hashtags": ["TherapistsConnect"],
        "home": {"url": "https://home.example"},
        "sources": [{"url": f"https://s{i}.example"} for i in range(sources)],
        "moderation": {"moderators": list(moderators)},
    }
    return parse_config(doc, path=Path("/srv/relay/relay.toml"))


def instance(host: str, *, token: bool = True, **changes: object) -> InstanceFacts:
    kind = server_kind({"software": {"name": "mastodon", "version": "4.6.4"}})
    base = InstanceFacts(
        host=host,
        domain=host,
        version="4.6.4",
        hashtag_feeds={"local": "public", "remote": "public"},
        kind=kind,
        plan=choose(kind, token=token).first,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def followed(handle: str) -> ModeratorFacts:
    return ModeratorFacts(handle, found=True, following=True, followed_by=True)


def healthy_account(**changes: object) -> AccountFacts:
    account = AccountFacts(
        acct="bot@home.example",
        bot=True,
        languages_known=True,
        scopes=("read", "write", "follow"),
        policy={
            "for_private_mentions": "filter",
            "for_not_following": "accept",
            "for_not_followers": "accept",
        },
        moderators=tuple(followed(h) for h in MODS),
    )
    return replace(account, **changes)  # type: ignore[arg-type]


def healthy_facts(**changes: object) -> Facts:
    facts = Facts(
        config=make_config(),
        home=instance("home.example"),
        home_token=TokenFacts(present=True),
        account=healthy_account(),
        sources=(SourceFacts(instance("s0.example", token=False), TokenFacts()),),
        state=StateFacts("/srv/relay/relay.sqlite3", exists=True),
    )
    return replace(facts, **changes)  # type: ignore[arg-type]


def by_key(items: list[Item]) -> dict[str, Item]:
    return {i.key: i for i in items}


class TestDecide:
    def test_healthy_facts_are_all_ok(self) -> None:
        """Working token, bot flag, scopes, no language filter, followed moderators: every item is ✓."""
        items = decide(healthy_facts())
        assert [i.key for i in items if i.status is not Status.OK] == []
        assert exit_code(items) == 0

    def test_language_filter_fails_with_the_fix(self) -> None:
        """A language filter on the bot is ✗: streams would silently drop posts in other languages."""
        item = by_key(decide(healthy_facts(account=healthy_account(chosen_languages=("de", "fr")))))[
            "languages"
        ]
        assert item.status is Status.FAIL
        assert "de, fr" in item.detail
        assert "silently drop" in item.detail
        assert item.fix is not None
        assert "Filter languages" in item.fix

    def test_unknown_language_filter_is_a_warning_not_a_pass(self) -> None:
        """When the server does not report the filter, the item warns instead of claiming ✓."""
        item = by_key(decide(healthy_facts(account=healthy_account(languages_known=False))))["languages"]
        assert item.status is Status.WARN

    def test_not_a_bot_only_warns(self) -> None:
        """An account without the bot flag is a warning with the profile setting, and exit stays 0."""
        items = decide(healthy_facts(account=healthy_account(bot=False)))
        assert by_key(items)["bot"].status is Status.WARN
        assert "automated account" in (by_key(items)["bot"].fix or "")
        assert exit_code(items) == 0

    def test_missing_scopes_fail_with_exit_2(self) -> None:
        """A token without write:follows and write:notifications is ✗ naming them, exit 2."""
        items = decide(healthy_facts(account=healthy_account(scopes=("read", "write:statuses"))))
        item = by_key(items)["scopes"]
        assert item.status is Status.FAIL
        assert "write:follows write:notifications" in item.detail
        assert exit_code(items) == 2

    def test_scope_coverage(self) -> None:
        """`read` and `write` cover their sub-scopes, legacy `follow` covers the follow scopes."""
        assert missing_scopes(("read", "write")) == []
        assert missing_scopes(REQUIRED_SCOPES) == []
        assert missing_scopes(("read", "write:statuses", "write:notifications", "follow")) == []
        assert missing_scopes(("read",)) == ["write:follows", "write:notifications", "write:statuses"]

    def test_unreported_scopes_warn(self) -> None:
        """A server that reports no scopes gives a warning that lists the required ones."""
        item = by_key(decide(healthy_facts(account=healthy_account(scopes=None))))["scopes"]
        assert item.status is Status.WARN
        assert item.fix is not None
        assert "write:statuses" in item.fix

    def test_policy_filter_with_unfollowed_moderator_fails(self) -> None:
        """Private mentions filtered and a moderator not followed: ✗ naming that moderator."""
        mods = (followed(MODS[0]), ModeratorFacts(MODS[1], found=True, followed_by=True))
        item = by_key(decide(healthy_facts(account=healthy_account(moderators=mods))))["moderator_dms"]
        assert item.status is Status.FAIL
        assert MODS[1] in item.detail
        assert MODS[0] not in item.detail
        assert item.fix is not None
        assert "accept" in item.fix

    def test_policy_accept_lets_unfollowed_moderators_through(self) -> None:
        """With private mentions and strangers accepted, following the moderators is not needed."""
        policy = {"for_private_mentions": "accept", "for_not_following": "accept"}
        mods = tuple(ModeratorFacts(h, found=True) for h in MODS)
        item = by_key(decide(healthy_facts(account=healthy_account(policy=policy, moderators=mods))))
        assert item["moderator_dms"].status is Status.OK

    def test_not_followers_policy_needs_moderators_to_follow_the_bot(self) -> None:
        """for_not_followers filtering hides DMs from a moderator who does not follow the bot."""
        policy = {"for_private_mentions": "accept", "for_not_followers": "filter"}
        mods = (followed(MODS[0]), ModeratorFacts(MODS[1], found=True, following=True))
        item = by_key(decide(healthy_facts(account=healthy_account(policy=policy, moderators=mods))))
        assert item["moderator_dms"].status is Status.FAIL
        assert "for_not_followers" in item["moderator_dms"].detail

    def test_server_without_policy_accepts_dms(self) -> None:
        """A server from before notification policies (404) filters nothing: ✓."""
        mods = tuple(ModeratorFacts(h, found=True) for h in MODS)
        item = by_key(decide(healthy_facts(account=healthy_account(policy=None, moderators=mods))))
        assert item["moderator_dms"].status is Status.OK

    def test_unknown_moderator_fails_by_handle(self) -> None:
        """A moderator the home instance cannot find is ✗ naming the handle."""
        mods = (followed(MODS[0]), ModeratorFacts(MODS[1]))
        item = by_key(decide(healthy_facts(account=healthy_account(moderators=mods))))["moderators"]
        assert item.status is Status.FAIL
        assert MODS[1] in item.detail

    def test_no_moderators_warns(self) -> None:
        """A relay without moderators warns that nobody can approve held posts."""
        facts = healthy_facts(config=make_config(moderators=()), account=healthy_account(moderators=()))
        items = by_key(decide(facts))
        assert items["moderators"].status is Status.WARN
        assert items["moderator_dms"].status is Status.SKIP

    @pytest.mark.parametrize(
        ("feeds", "token", "status"),
        [
            ({"local": "public", "remote": "public"}, False, Status.OK),
            ({"local": "authenticated", "remote": "authenticated"}, True, Status.OK),
            ({"local": "authenticated", "remote": "authenticated"}, False, Status.WARN),
            ({"local": "authenticated", "remote": "disabled"}, False, Status.WARN),
            ({"local": "public", "remote": "authenticated"}, False, Status.OK),
            ({"local": "authenticated", "remote": "public"}, False, Status.OK),
            ({"local": "public", "remote": "disabled"}, False, Status.WARN),
            ({"local": "disabled", "remote": "public"}, True, Status.FAIL),
            (None, False, Status.OK),
        ],
    )
    def test_source_hashtag_feed_access(
        self, feeds: dict[str, str] | None, token: bool, status: Status
    ) -> None:
        """A public feed is polled (even when the other needs a token); no public feed needs a token
        (else RSS); a disabled local feed fails."""
        source = SourceFacts(instance("s0.example", hashtag_feeds=feeds), TokenFacts(present=token))
        item = by_key(decide(healthy_facts(sources=(source,))))["source:s0.example"]
        assert item.status is status
        if status is Status.FAIL:
            assert "hashtag feeds are disabled on s0.example" in item.detail

    @pytest.mark.parametrize("local", ["public", "authenticated", "disabled", None])
    @pytest.mark.parametrize("remote", ["public", "authenticated", "disabled", None])
    def test_rss_warning_says_what_the_relay_does(self, local: str | None, remote: str | None) -> None:
        """Without a token, the checklist warns of RSS exactly where the relay reads RSS
        (`relay.sources.access`): with local public and remote authenticated it polls the local posts."""
        feeds = {key: value for key, value in (("local", local), ("remote", remote)) if value is not None}
        json = {"configuration": {"timelines_access": {"hashtag_feeds": feeds}}}
        source = SourceFacts(instance("s0.example", hashtag_feeds=feeds), TokenFacts(present=False))
        item = by_key(decide(healthy_facts(sources=(source,))))["source:s0.example"]
        if item.status is not Status.FAIL:
            assert ("falls back to RSS" in item.detail) == (not access(json).poll)

    def test_disabled_remote_feed_on_home_fails(self) -> None:
        """The home instance carries federated posts, so its disabled remote feed is a failure."""
        home = instance("home.example", hashtag_feeds={"local": "public", "remote": "disabled"})
        assert by_key(decide(healthy_facts(home=home)))["home"].status is Status.FAIL

    def test_rejected_home_token_skips_account_items(self) -> None:
        """Without working credentials, the account items are skipped and the exit code is 2."""
        token = TokenFacts(present=True, error="home.example rejected the token: HTTP 401", rejected=True)
        items = decide(healthy_facts(home_token=token, account=None))
        keyed = by_key(items)
        assert keyed["credentials"].status is Status.FAIL
        assert {keyed[k].status for k in ("bot", "scopes", "languages", "moderators")} == {Status.SKIP}
        assert exit_code(items) == 2

    def test_network_failures_exit_1(self) -> None:
        """An unreachable source and an unhealthy streaming server fail with exit 1, not 2."""
        source = SourceFacts(instance("s0.example", error="[Errno 111] Connection refused"), TokenFacts())
        home = instance("home.example", streaming_error="HTTP 503")
        items = decide(healthy_facts(home=home, sources=(source,)))
        assert by_key(items)["source:s0.example"].status is Status.FAIL
        assert by_key(items)["streaming:home.example"].status is Status.FAIL
        assert exit_code(items) == 1

    def test_state_file_missing_warns(self) -> None:
        """A state file that does not exist yet is a warning: the relay creates it at first run."""
        item = by_key(decide(healthy_facts(state=StateFacts("/srv/relay/x.sqlite3", exists=False))))["state"]
        assert item.status is Status.WARN
        assert "created at first run" in item.detail

    def test_text_shows_symbols_and_fixes(self) -> None:
        """The terminal output has one ✓/!/✗ line per item, a fix line under problems, and a verdict."""
        text = render_text(
            "relay.toml", decide(healthy_facts(account=healthy_account(chosen_languages=("de",))))
        )
        lines = text.splitlines()
        assert lines[0] == "relay check: relay.toml"
        assert any(line.startswith("✗ language filter") for line in lines)
        assert any(line.strip().startswith("fix: on the bot account") for line in lines)
        assert lines[-1].startswith("1 problem, 0 warnings")

    def test_json_lists_every_item(self) -> None:
        """--json output carries ok, the exit code and every item with its status."""
        body = json.loads(render_json("relay.toml", decide(healthy_facts())))
        assert body["ok"] is True
        assert body["exit_code"] == 0
        assert {i["status"] for i in body["items"]} == {"ok"}


# ---- the real command against the sandbox --------------------------------------------------------


@dataclass
class Setup:
    """A sandbox and a relay.toml for it: a bot on home, moderators on home and remote, a remote source."""

    tmp: Path
    fed: Fediverse
    bot: SeededAccount
    moderators: list[SeededAccount]
    reader: SeededAccount

    @property
    def home(self) -> Instance:
        return self.fed["home"]

    @property
    def remote(self) -> Instance:
        return self.fed["remote"]

    @property
    def config(self) -> Path:
        return self.tmp / "relay.toml"

    def write(self, *, moderators: Sequence[str] | None = None, extra_sources: Sequence[str] = ()) -> Path:
        handles = moderators if moderators is not None else [m.acct for m in self.moderators]
        sources = [f'[[sources]]\nurl = "{self.remote.url}"\ntoken_file = "remote.token"\n']
        sources += [f'[[sources]]\nurl = "{url}"\n' for url in extra_sources]
        self.config.write_text(
            'hashtags = ["TherapistsConnect"]\nstate = "state.sqlite3"\n'
            f'[home]\nurl = "{self.home.url}"\ntoken_file = "home.token"\n'
            + "".join(sources)
            + f"[moderation]\nmoderators = {json.dumps(handles)}\n",
            encoding="utf-8",
        )
        return self.config


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    """A healthy setup: bot=True, moderators followed, token files 0600, a migrated state file."""
    monkeypatch.delenv("RELAY_HOME_TOKEN", raising=False)
    with Fediverse(["home", "remote"], heartbeat=0.2) as fed:
        home, remote = fed["home"], fed["remote"]
        bot = home.create_account("bot", bot=True)
        moderators = [home.create_account("alice"), remote.create_account("bob")]
        for moderator in moderators:
            home.follow(bot, moderator.acct)
        reader = remote.create_account("reader")
        write_token_file(tmp_path / "home.token", bot.token)
        write_token_file(tmp_path / "remote.token", reader.token)
        Store.open(tmp_path / "state.sqlite3").close()
        result = Setup(tmp_path, fed, bot, moderators, reader)
        result.write()
        yield result


def check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, dict[str, str]]]:
    """Run `relay check --json` in-process (the real parser and `run`); the exit code and items by key."""
    code = run(build_parser().parse_args(["check", "--json", "-c", str(config)]))
    out = capsys.readouterr().out  # the sandbox's own log lines come first
    body = json.loads(out[out.index('{\n  "config"') :])
    return code, {i["key"]: i for i in body["items"]}


def relay_check(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_relay("check", "-c", str(config), *args, timeout=60)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestAgainstSandbox:
    def test_healthy_setup_passes_as_a_process(self, setup: Setup) -> None:
        """The real process exits 0 and every item is ✓, except the language filter no server reports."""
        result = relay_check(setup.config)
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()[1:-1]
        assert [line for line in lines if line.startswith(("✗", "-"))] == []
        assert [line.split()[1:3] for line in lines if line.startswith("!")] == [["language", "filter"]]
        assert f"bot@{setup.home.domain}" in result.stdout
        assert setup.bot.token not in result.stdout + result.stderr
        assert setup.reader.token not in result.stdout + result.stderr

    def test_json_output_as_a_process(self, setup: Setup) -> None:
        """`--json` prints every item as JSON: config, home, credentials, sources, streaming, state."""
        result = relay_check(setup.config, "--json")
        body = json.loads(result.stdout)
        assert body["ok"] is True
        assert body["exit_code"] == 0 == result.returncode
        keys = {i["key"] for i in body["items"]}
        assert {
            "config",
            "home",
            "credentials",
            "bot",
            "scopes",
            "moderators",
            "moderator_dms",
            "state",
        } <= keys
        assert f"source:{setup.remote.domain}" in keys
        assert f"streaming:{setup.remote.domain}" in keys

    def test_revoked_token_fails_with_exit_2(self, setup: Setup) -> None:
        """A revoked home token is ✗ on the credentials item and exits 2, with no traceback."""
        setup.home.revoke_token(setup.bot.token)
        result = relay_check(setup.config)
        assert result.returncode == 2
        assert "✗ home credentials" in result.stdout
        assert "rejected the token" in result.stdout
        assert "Traceback" not in result.stderr

    def test_token_file_readable_by_others_fails_with_chmod(self, setup: Setup) -> None:
        """A 0644 token file is ✗ with the chmod that fixes it, exit 2."""
        (setup.tmp / "home.token").chmod(0o644)
        result = relay_check(setup.config)
        assert result.returncode == 2
        assert "readable by others" in result.stdout
        assert f"chmod 600 {setup.tmp / 'home.token'}" in result.stdout

    def test_invalid_config_fails_with_exit_2(self, setup: Setup) -> None:
        """A configuration error is one ✗ item naming the key, exit 2."""
        setup.config.write_text('hashtags = ["#TherapistsConnect"]\n[home]\nurl = "http://127.0.0.1:1"\n')
        result = relay_check(setup.config)
        assert result.returncode == 2
        assert "✗ configuration" in result.stdout
        assert "hashtags" in result.stdout

    def test_unknown_moderator_is_named(self, setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
        """A moderator handle that exists nowhere is ✗ with the handle named."""
        ghost = f"ghost@{setup.remote.domain}"
        code, items = check(setup.write(moderators=[setup.moderators[0].acct, ghost]), capsys)
        assert code == 1
        assert items["moderators"]["status"] == "fail"
        assert ghost in items["moderators"]["detail"]
        assert items["moderator_dms"]["status"] == "ok"

    def test_policy_filter_and_unfollowed_moderators_fail(
        self, setup: Setup, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With private mentions filtered, moderators the bot does not follow make the DM item ✗."""
        carol = setup.home.create_account("carol")
        code, items = check(setup.write(moderators=[carol.acct, setup.moderators[1].acct]), capsys)
        assert code == 1
        assert items["moderator_dms"]["status"] == "fail"
        assert carol.acct in items["moderator_dms"]["detail"]
        assert setup.moderators[1].acct not in items["moderator_dms"]["detail"]

    def test_policy_accept_lets_moderators_through(
        self, setup: Setup, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Setting private mentions to accept makes unfollowed moderators fine."""
        carol = setup.home.create_account("carol")
        setup.home.set_notification_policy(setup.bot, for_private_mentions="accept")
        code, items = check(setup.write(moderators=[carol.acct]), capsys)
        assert code == 0
        assert items["moderator_dms"]["status"] == "ok"

    def test_disabled_hashtag_feed_on_a_source_fails(
        self, setup: Setup, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A source whose hashtag feeds are disabled is ✗ saying so."""
        setup.remote.set_hashtag_feeds(local="disabled", remote="disabled")
        code, items = check(setup.config, capsys)
        assert code == 1
        item = items[f"source:{setup.remote.domain}"]
        assert item["status"] == "fail"
        assert f"hashtag feeds are disabled on {setup.remote.domain}" in item["detail"]

    def test_authenticated_feed_without_token_warns(
        self, setup: Setup, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A tokenless source whose feed needs a login is a warning about the RSS fallback."""
        third = Fediverse(["third"]).start()
        try:
            third["third"].set_hashtag_feeds(local="authenticated", remote="authenticated")
            code, items = check(setup.write(extra_sources=[third["third"].url]), capsys)
        finally:
            third.stop()
        assert code == 0
        item = items[f"source:{third['third'].domain}"]
        assert item["status"] == "warn"
        assert "RSS" in item["detail"]

    def test_tokenless_source_whose_feed_answers_401_fails(
        self, setup: Setup, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A tokenless source whose tag timeline refuses anonymous readers (as GoToSocial's does,
        with no setting saying so) is ✗ on its feed item, with the fix, though the instance answers."""
        third = Fediverse(["third"]).start()
        try:
            third["third"].fail_next(5, status=401, path_prefix="/api/v1/timelines/tag")
            code, items = check(setup.write(extra_sources=[third["third"].url]), capsys)
        finally:
            third.stop()
        host = third["third"].domain
        assert code == 1
        assert items[f"source:{host}"]["status"] == "ok"
        feed = items[f"feed:{host}"]
        assert feed["status"] == "fail"
        assert feed["detail"].startswith("rest (poll): ")
        assert "cannot be read without a token (HTTP 401" in feed["detail"]
        assert f"token for {host}" in feed["fix"]

    def test_each_instance_says_how_it_is_read_and_why(
        self, setup: Setup, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Home and each source get a feed item naming the method the relay will use and why."""
        _, items = check(setup.config, capsys)
        for host in (setup.home.domain, setup.remote.domain):
            assert items[f"feed:{host}"]["status"] == "ok"
            assert items[f"feed:{host}"]["detail"].startswith("sse (per-tag): SSE, one connection")

    def test_language_filter_is_never_reported_clear(
        self, setup: Setup, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With a language filter on the bot (which the API does not show), the item is not ✓."""
        setup.home.set_chosen_languages(setup.bot, ["de"])
        _, items = check(setup.config, capsys)
        assert items["languages"]["status"] == "warn"
        assert "Filter languages" in items["languages"]["fix"]

    def test_unreachable_source_is_named(self, setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
        """A source on a closed loopback port is ✗ naming it and the error, without a traceback."""
        port = closed_port()
        code, items = check(setup.write(extra_sources=[f"http://127.0.0.1:{port}"]), capsys)
        assert code == 1
        item = items[f"source:127.0.0.1:{port}"]
        assert item["status"] == "fail"
        assert f"cannot reach 127.0.0.1:{port}" in item["detail"]
        assert "refused" in item["detail"]

    def test_revoked_source_token_fails(self, setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
        """A source token the source rejects is ✗ on that source, exit 2."""
        setup.remote.revoke_token(setup.reader.token)
        code, items = check(setup.config, capsys)
        assert code == 2
        assert "token rejected" in items[f"source:{setup.remote.domain}"]["detail"]

    def test_app_without_write_scopes_fails(self, setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
        """A token from an app registered for `read` only lacks the write scopes: ✗, exit 2."""
        client_id, client_secret = Mastodon.create_app("relay", scopes=["read"], api_base_url=setup.home.url)
        app = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=setup.home.url)
        code_ = setup.home.authorize(setup.bot, client_id, ["read"])
        write_token_file(setup.tmp / "home.token", app.log_in(code=code_, scopes=["read"], allow_http=True))
        code, items = check(setup.config, capsys)
        assert code == 2
        assert items["scopes"]["status"] == "fail"
        assert "write:statuses" in items["scopes"]["detail"]

    def test_unhealthy_streaming_fails(self, setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
        """A streaming server that answers 503 to its health check is ✗."""
        setup.home.fail_next(1, status=503, path_prefix="/api/v1/streaming/health")
        code, items = check(setup.config, capsys)
        assert code == 1
        assert items[f"streaming:{setup.home.domain}"]["status"] == "fail"

    def test_not_a_bot_warns_but_passes(self, setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
        """A booster account without the bot flag warns and still exits 0."""
        human = setup.home.create_account("human")
        for moderator in setup.moderators:
            setup.home.follow(human, moderator.acct)
        write_token_file(setup.tmp / "home.token", human.token)
        code, items = check(setup.config, capsys)
        assert code == 0
        assert items["bot"]["status"] == "warn"

    def test_missing_state_file_warns(self, setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
        """No state file yet: a warning that it will be created, and no file is created by check."""
        (setup.tmp / "state.sqlite3").unlink()
        code, items = check(setup.config, capsys)
        assert code == 0
        assert items["state"]["status"] == "warn"
        assert not (setup.tmp / "state.sqlite3").exists()


GTS = server_kind({"software": {"name": "gotosocial", "version": "0.20.0-rc1"}})


def gts(host: str, *, token: bool = True, **changes: object) -> InstanceFacts:
    """A GoToSocial instance as gather() sees it: no timelines_access, no notification policy."""
    plan = choose(GTS, token=token).first
    return instance(host, kind=GTS, version="0.20.0-rc1", hashtag_feeds=None, plan=plan, **changes)


class TestServerKinds:
    def test_gotosocial_home_is_named_as_it_is(self) -> None:
        """A GoToSocial home is shown by its own name and version, never as "Mastodon 0.20.0-rc1",
        and no Mastodon-only setting is claimed missing."""
        account = healthy_account(scopes=("read", "write:follows", "write:notifications", "write:statuses"))
        items = by_key(decide(healthy_facts(home=gts("home.example"), account=account)))
        assert "gotosocial 0.20.0-rc1" in items["home"].detail
        assert "Mastodon" not in items["home"].detail
        assert "gotosocial has no access setting" in items["home"].detail
        assert items["feed:home.example"].detail.startswith("websocket (follow): ")
        assert items["scopes"].status is Status.OK

    def test_gotosocial_token_without_top_level_read_fails(self) -> None:
        """On GoToSocial the granular read:* scopes are not enough (its streaming wants `read`)."""
        facts = healthy_facts(home=gts("home.example"), account=healthy_account(scopes=REQUIRED_SCOPES))
        item = by_key(decide(facts))["scopes"]
        assert item.status is Status.FAIL
        assert "lacks read" in item.detail
        assert "top-level read" in item.detail

    def test_without_policy_a_non_mastodon_home_is_not_called_old_mastodon(self) -> None:
        """A server without notification policies is named as itself, not "before Mastodon 4.3"."""
        mods = tuple(ModeratorFacts(h, found=True) for h in MODS)
        account = healthy_account(policy=None, moderators=mods)
        item = by_key(decide(healthy_facts(home=gts("home.example"), account=account)))["moderator_dms"]
        assert item.status is Status.OK
        assert "gotosocial 0.20.0-rc1 has no notification policy" in item.detail

    def test_unrecognisable_moderator_fails(self) -> None:
        """A moderator found but given neither uri nor id is ✗: no DM from them could be trusted."""
        mods = (followed(MODS[0]), ModeratorFacts(MODS[1], found=True, recognisable=False))
        item = by_key(decide(healthy_facts(account=healthy_account(moderators=mods))))["moderators"]
        assert item.status is Status.FAIL
        assert MODS[1] in item.detail
        assert "cannot be recognised" in item.detail

    def test_unreadable_tokenless_feed_fails_with_the_fix(self) -> None:
        """A tokenless source whose tag timeline answers 401 (GoToSocial) is ✗ naming the feed."""
        source = gts("s0.example", token=False, feed_error="#x's timeline cannot be read without a token")
        items = decide(healthy_facts(sources=(SourceFacts(source, TokenFacts()),)))
        item = by_key(items)["feed:s0.example"]
        assert item.status is Status.FAIL
        assert item.detail.startswith("rest (poll): ")
        assert "cannot be read without a token" in item.detail
        assert exit_code(items) == 1

    def test_failed_stream_promises_only_what_the_relay_does(self) -> None:
        """An unhealthy stream is ✗; its fix says the relay falls back to REST, never that it "polls
        until it is back"."""
        item = by_key(decide(healthy_facts(home=instance("home.example", streaming_error="HTTP 502"))))
        assert item["streaming:home.example"].status is Status.FAIL
        assert "polls until" not in (item["streaming:home.example"].fix or "")
        assert "over REST" in (item["streaming:home.example"].fix or "")

    def test_rest_only_source_has_no_stream_to_check(self) -> None:
        """A REST-only server's stream is not checked; its feed item says why it is polled."""
        kind = server_kind({"software": {"name": "pixelfed", "version": "0.12.5"}})
        source = instance("s0.example", kind=kind, plan=choose(kind, token=True).first)
        items = by_key(decide(healthy_facts(sources=(SourceFacts(source, TokenFacts(present=True)),))))
        assert items["streaming:s0.example"].status is Status.SKIP
        assert "pixelfed 0.12.5 has no Mastodon streaming" in items["feed:s0.example"].detail

    def test_unknown_server_says_nodeinfo_was_missing(self) -> None:
        """Without NodeInfo the item says so, and that it is taken as Mastodon-compatible."""
        home = instance("home.example", kind=UNKNOWN, kind_error="/.well-known/nodeinfo answered HTTP 404")
        item = by_key(decide(healthy_facts(home=home)))["home"]
        assert "version 4.6.4; no NodeInfo (/.well-known/nodeinfo answered HTTP 404)" in item.detail
