"""End to end: replies to anchor posts, read by the real `relay run` from the anchor's own server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mastodon import Mastodon
from relayproc import RelayProcess, connected_relay, run_relay, wait_for

from relay.sandbox import Fediverse, SeededAccount
from relay.store.store import Store


@pytest.fixture
def fed() -> Iterator[Fediverse]:
    """Home (the bot's), remote (the founder's) and third (the repliers') instances."""
    with Fediverse(["home", "remote", "third"], heartbeat=0.5) as fediverse:
        yield fediverse


@pytest.fixture
def bot(fed: Fediverse) -> SeededAccount:
    return fed["home"].create_account("relaybot", bot=True)


@pytest.fixture
def founder(fed: Fediverse) -> SeededAccount:
    """The author of the anchor posts, on remote (the relay has no token there)."""
    return fed["remote"].create_account("founder")


@pytest.fixture
def carol(fed: Fediverse) -> SeededAccount:
    """A therapist on a third instance who replies."""
    return fed["third"].create_account("carol")


def post(fed: Fediverse, instance: str, account: SeededAccount, text: str, **options: object) -> dict:
    api = Mastodon(access_token=account.token, api_base_url=fed[instance].url)
    return dict(api.status_post(text, **options))


def reply(fed: Fediverse, instance: str, account: SeededAccount, to: dict, text: str) -> dict:
    """A reply on `instance` to the status `to` (its copy there, found through search with resolve)."""
    api = Mastodon(access_token=account.token, api_base_url=fed[instance].url)
    local = api.search_v2(to["url"], resolve=True, result_type="statuses")["statuses"][0]
    return dict(api.status_post(text, in_reply_to_id=local["id"]))


def anchors_toml(*anchors: tuple[str, str]) -> str:
    return "".join(
        f'[[anchors]]\nurl = "{url}"\nreplies = "{scope}"\ninterval = 0.3\n' for url, scope in anchors
    )


def relay_with(tmp_path: Path, fed: Fediverse, bot: SeededAccount, *anchors: tuple[str, str]) -> RelayProcess:
    return RelayProcess(tmp_path, fed, bot, mode="open", extra=anchors_toml(*anchors))


class TestAnchorReplies:
    def test_reply_without_hashtag_boosted_non_anchor_reply_not_deleted_reply_retracted(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, founder: SeededAccount, carol: SeededAccount
    ) -> None:
        """A reply without the hashtag to an anchor on another instance is boosted (its reason kept:
        "reply to anchor <url>"); a reply to a post that is not an anchor is not; deleting the
        anchor reply retracts it, seen at the next read of the anchor's context."""
        anchor = post(fed, "remote", founder, "Who are you, where are you, what do you do?")
        other = post(fed, "remote", founder, "Unrelated musings")
        with connected_relay(
            tmp_path, fed, bot, mode="open", extra=anchors_toml((anchor["url"], "direct"))
        ) as relay:
            relay.wait_log("anchor.read", anchor=anchor["url"])
            off_anchor = reply(fed, "third", carol, other, "A reply to a post that is not an anchor")
            answer = reply(fed, "third", carol, anchor, "I am Carol, a counsellor in Cork")
            relay.wait_boosted(answer["uri"])
            relay.wait_log("post.screened", uri=answer["uri"], decision="accept")
            reads = len([e for e in relay.logs() if e.get("event") == "anchor.read"])
            wait_for(
                lambda: len([e for e in relay.logs() if e.get("event") == "anchor.read"]) > reads + 1,
                what="two more reads of the anchor",
            )
            assert off_anchor["uri"] not in relay.boosted_uris()
            assert relay.boosted_uris() == [answer["uri"]]

            checked = run_relay("check", "--json", "-c", str(relay.config))
            item = next(
                i for i in json.loads(checked.stdout)["items"] if i["key"] == f"anchor:{anchor['url']}"
            )
            assert item["status"] == "ok", item
            assert "1 direct replies" in item["detail"]
            assert "without a token" in item["detail"]
            shown = json.loads(run_relay("status", "--json", "-c", str(relay.config)).stdout)
            assert [(a["url"], a["replies"], a["boosted"]) for a in shown["anchors"]] == [
                (anchor["url"], 1, 1)
            ]

            Mastodon(access_token=carol.token, api_base_url=fed["third"].url).status_delete(answer["id"])
            relay.wait_log("post.retracted", uri=answer["uri"])
            wait_for(lambda: answer["uri"] not in relay.boosted_uris(), what="the reblog gone")
            relay.stop()
        with Store.open(relay.state, readonly=True) as store:
            verdict = store.posts.verdict_for(answer["uri"])
            assert verdict is not None
            assert any(r.detail == f"reply to anchor {anchor['url']}" for r in verdict.reasons)
            assert store.posts.is_retracted(answer["uri"])
            details = [row.detail or "" for row in store.audit_log.audit_rows(uri=answer["uri"])]
            assert any(f"reply to anchor {anchor['url']}" in d for d in details)

    def test_thread_mode_takes_a_reply_to_a_reply_direct_mode_does_not(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, founder: SeededAccount, carol: SeededAccount
    ) -> None:
        """Under a `thread` anchor a reply to a reply is boosted; under a `direct` one it is not."""
        threaded = post(fed, "remote", founder, "Thread anchor")
        direct = post(fed, "remote", founder, "Direct anchor")
        dave = fed["home"].create_account("dave")
        extra = anchors_toml((threaded["url"], "thread"), (direct["url"], "direct"))
        with connected_relay(tmp_path, fed, bot, mode="open", extra=extra) as relay:
            first_t = reply(fed, "third", carol, threaded, "First under the thread anchor")
            first_d = reply(fed, "third", carol, direct, "First under the direct anchor")
            relay.wait_boosted(first_t["uri"])
            relay.wait_boosted(first_d["uri"])
            deep_t = reply(fed, "home", dave, first_t, "Dave answering Carol, thread anchor")
            deep_d = reply(fed, "home", dave, first_d, "Dave answering Carol, direct anchor")
            relay.wait_boosted(deep_t["uri"])
            reads = len([e for e in relay.logs() if e.get("event") == "anchor.read"])
            wait_for(
                lambda: len([e for e in relay.logs() if e.get("event") == "anchor.read"]) > reads + 2,
                what="more reads of both anchors",
            )
            assert deep_d["uri"] not in relay.boosted_uris()
            assert sorted(relay.boosted_uris()) == sorted([first_t["uri"], first_d["uri"], deep_t["uri"]])

    def test_replies_to_the_bots_own_anchor_come_as_mentions(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, carol: SeededAccount
    ) -> None:
        """The bot's own anchor post: a public reply (which mentions the bot) is boosted from the
        mention at once, without waiting for the next read of the anchor's context."""
        anchor = post(fed, "home", bot, "Who are you, where are you, what do you do? Reply and I reshare.")
        extra = f'[[anchors]]\nurl = "{anchor["url"]}"\ninterval = 3600\n'
        with connected_relay(tmp_path, fed, bot, mode="open", extra=extra) as relay:
            relay.wait_log("anchor.read", anchor=anchor["url"])  # the first read, before the reply
            handle = f"@{bot.username}@{fed['home'].domain}"
            answer = reply(fed, "third", carol, anchor, f"{handle} I am Carol, a counsellor in Cork")
            relay.wait_boosted(answer["uri"])
            screened = relay.wait_log("post.screened", uri=answer["uri"])
            assert (screened["via"], screened["anchor"], screened["decision"]) == (
                "mention",
                anchor["url"],
                "accept",
            )
            assert len([e for e in relay.logs() if e.get("event") == "anchor.read"]) == 1

    def test_an_edit_that_no_longer_passes_is_unboosted(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, founder: SeededAccount, carol: SeededAccount
    ) -> None:
        """A boosted anchor reply edited so that it no longer passes is unboosted, as a hashtag post is."""
        anchor = post(fed, "remote", founder, "Who are you?")
        extra = anchors_toml((anchor["url"], "direct")) + '[rules.keywords]\nreject = ["crypto"]\n'
        with connected_relay(tmp_path, fed, bot, mode="open", extra=extra) as relay:
            answer = reply(fed, "third", carol, anchor, "Carol, counsellor in Cork")
            relay.wait_boosted(answer["uri"])
            api = Mastodon(access_token=carol.token, api_base_url=fed["third"].url)
            api.status_update(answer["id"], status="Carol, counsellor in Cork. Also: crypto tips!")
            wait_for(lambda: answer["uri"] not in relay.boosted_uris(), what="the reblog undone")
            edited = relay.wait_log("post.screened", uri=answer["uri"], edit=True)
            assert (edited["via"], edited["decision"]) == ("anchor", "reject")
