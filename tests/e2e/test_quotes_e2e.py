"""End to end: quote posts through the real `relay run` process on a sandbox fediverse.

Authors on remote and third are quoted by people on home (the relay reads home's hashtag stream).
A quote of a remote post is created `pending` and accepted by a `status.update`, as the sandbox does
it after Mastodon 4.5: so every quote below is first refused for its state, then screened again.
One relay (open mode, the default `quotes = "hold"`, moderator mira) serves `TestQuotes`; a second
one shows `quotes = "accept"`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mastodon import Mastodon
from relayproc import HASHTAG, RelayProcess, connected_relay, wait_for

from relay.core.dm import dm_text
from relay.core.verdict import Decision, Verdict
from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.store.store import Store

NAMES = itertools.count()


@dataclass
class World:
    fed: Fediverse
    relay: RelayProcess
    bot: SeededAccount
    mira: SeededAccount  # the moderator, on home
    quoter: SeededAccount  # quotes others, on home

    @property
    def home(self) -> Instance:
        return self.fed["home"]

    def author(self, instance: str = "remote", **profile: Any) -> SeededAccount:
        """A new account on `instance` that follows the bot (so that the bot's DMs reach it)."""
        account = self.fed[instance].create_account(f"author{next(NAMES)}", **profile)
        self.fed[instance].follow(account, f"{self.bot.username}@{self.home.domain}")
        return account

    def original(self, author: SeededAccount, instance: str = "remote", text: str = "My own words.") -> str:
        """`author` posts `text` on `instance`; its id there."""
        return self.fed[instance].post(author, text)

    def quote(
        self, original_id: str, instance: str = "remote", text: str = "Worth reading"
    ) -> dict[str, Any]:
        """The quoter quotes `original_id` (an id on `instance`) from home, with the hashtag."""
        home_id = wait_for(lambda: self.home.status_id(self.fed[instance].status_uri(original_id)))
        quoting = self.home.quote(self.quoter, f"{text} #{HASHTAG}", home_id)  # the same words each time
        return {"id": quoting, "uri": self.home.status_uri(quoting)}

    def verdict(self, uri: str, rule: str) -> Verdict:
        """Wait until `uri`'s stored verdict names `rule`; that verdict."""

        def found() -> Verdict | None:
            with Store.open(self.relay.state, readonly=True) as store:
                verdict = store.posts.verdict_for(uri)
            return verdict if verdict and rule in [r.rule for r in verdict.reasons] else None

        return wait_for(found, what=f"{uri} screened with {rule}")

    def dm(self, who: SeededAccount, instance: str, text: str) -> None:
        api = Mastodon(access_token=who.token, api_base_url=self.fed[instance].url)
        api.status_post(f"@{self.bot.username}@{self.home.domain} {text}", visibility="direct")

    def dms_to(self, who: SeededAccount, instance: str) -> list[str]:
        api = Mastodon(access_token=who.token, api_base_url=self.fed[instance].url)
        notes = api.notifications(types=["mention"], limit=80)
        return [dm_text(n["status"]["content"]) for n in notes if n["account"]["uri"] == self.bot.uri]

    def wait_dm(self, who: SeededAccount, instance: str, contains: str) -> str:
        return wait_for(
            lambda: next((t for t in self.dms_to(who, instance) if contains in t), None),
            what=f"a DM saying {contains!r}",
        )

    def held_id(self, uri: str) -> str:
        with Store.open(self.relay.state, readonly=True) as store:
            item = wait_for(lambda: store.queue.queue_by_uri(uri), what=f"{uri} held")
        return item.short_id


def refused(verdict: Verdict) -> list[str]:
    return [r.rule for r in verdict.reasons if r.decision is Decision.REJECT]


@pytest.fixture(scope="class")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One relay, open mode, quotes held by default; a keyword, an account and a domain blocked."""
    with Fediverse(["home", "remote", "third"], heartbeat=0.5) as fed:
        home = fed["home"]
        bot = home.create_account("relaybot", bot=True)
        handle = f"relaybot@{home.domain}"
        mira = home.create_account("mira")
        home.follow(mira, handle)
        quoter = home.create_account("quoter")
        troll = fed["remote"].create_account("troll")
        extra = (
            '[rules.keywords]\nreject = ["pathological liar"]\n'
            f'[rules.blocks]\naccounts = ["{troll.acct}"]\ndomains = ["{fed["third"].domain}"]\n'
        )
        relay = RelayProcess(
            tmp_path_factory.mktemp("quotes"),
            fed,
            bot,
            mode="open",
            moderators=(mira.acct,),
            moderation='dm_policy = "accept"\ndigest_interval = 0.5',
            extra="[rules]\n" + extra,
        )
        with relay:
            relay.wait_log("stream.connected", stream=f"{home.domain} notifications")
            w = World(fed, relay, bot, mira, quoter)
            w.troll = troll  # type: ignore[attr-defined]
            yield w


class TestQuotes:
    def test_a_quote_of_an_opted_out_author_is_refused(self, world: World) -> None:
        """An author who sent `optout` is not spread by another's quote: rejected with that reason."""
        carol = world.author()
        world.dm(carol, "remote", "optout")
        world.wait_dm(carol, "remote", "I won't boost your posts any more")
        quote = world.quote(world.original(carol))
        verdict = world.verdict(quote["uri"], "quotes.consent.opt_out")
        assert verdict.decision is Decision.REJECT
        assert quote["uri"] not in world.relay.boosted_uris()

    def test_a_quote_of_a_nobot_bio_is_refused(self, world: World) -> None:
        """A quoted author whose bio says #nobot: rejected."""
        dora = world.author(note="Counsellor. #nobot")
        quote = world.quote(world.original(dora))
        assert "quotes.consent.refuse_tags" in refused(
            world.verdict(quote["uri"], "quotes.consent.refuse_tags")
        )

    def test_a_quote_of_a_blocked_account_is_refused(self, world: World) -> None:
        """A quoted account blocked in relay.toml: rejected."""
        troll = world.troll  # type: ignore[attr-defined]
        quote = world.quote(world.original(troll))
        assert "quotes.blocks.accounts" in refused(world.verdict(quote["uri"], "quotes.blocks.accounts"))

    def test_a_quote_of_a_blocked_domain_is_refused(self, world: World) -> None:
        """A quoted author on a blocked domain: rejected."""
        ed = world.author("third")
        quote = world.quote(world.original(ed, "third"), "third")
        assert "quotes.blocks.domains" in refused(world.verdict(quote["uri"], "quotes.blocks.domains"))

    def test_a_quote_the_quoted_author_did_not_accept_is_refused(self, world: World) -> None:
        """A quote of a post only followers may quote, by a non-follower: pending, then rejected;
        never held, never boosted."""
        fred = world.author()
        world.fed["remote"].set_quote_policy(fred, "followers")
        quote = world.quote(world.original(fred))
        verdict = world.verdict(quote["uri"], "quotes.state")
        assert refused(verdict) == ["quotes.state"]
        world.relay.wait_log("post.screened", uri=quote["uri"], edit=True)
        final = world.verdict(quote["uri"], "quotes.state")
        assert "the quoted author refused it" in final.reasons[0].detail
        with Store.open(world.relay.state, readonly=True) as store:
            assert store.queue.queue_by_uri(quote["uri"]) is None
        assert quote["uri"] not in world.relay.boosted_uris()

    def test_a_quote_of_text_with_a_refused_keyword_is_refused(self, world: World) -> None:
        """The quoted text goes through the keyword rules."""
        gil = world.author()
        quote = world.quote(world.original(gil, text="She is a pathological liar, everyone."))
        assert "quotes.keywords.reject" in refused(world.verdict(quote["uri"], "quotes.keywords.reject"))

    def test_a_harmless_quote_is_held_approved_boosted_and_unboosted_when_revoked(self, world: World) -> None:
        """Held with whose words and their start in the notice and in `why`; approved, boosted; the
        quoted author revokes the quote: unboosted."""
        hana = world.author()
        original = world.original(hana, text="Supervision groups open in May.")
        quote = world.quote(original, text="Good news")
        short_id = world.held_id(quote["uri"])
        notice = world.wait_dm(world.mira, "home", f"Held for review: {short_id}")
        assert f"quotes: a quote of {hana.acct}: “Supervision groups open in May.”" in notice
        world.home.post(world.mira, f"@relaybot@{world.home.domain} why {short_id}", visibility="direct")
        why = world.wait_dm(world.mira, "home", f"{short_id}: hold")
        assert f"- quotes (hold): a quote of {hana.acct}: “Supervision groups open in May.”" in why
        world.home.post(world.mira, f"@relaybot@{world.home.domain} approve {short_id}", visibility="direct")
        world.relay.wait_boosted(quote["uri"])
        remote = world.fed["remote"]
        remote_quoting = wait_for(lambda: remote.status_id(quote["uri"]))
        remote.revoke_quote(hana, original, remote_quoting)
        world.relay.wait_log("post.edit_unboost", uri=quote["uri"])
        wait_for(lambda: quote["uri"] not in world.relay.boosted_uris(), what="the unboost")
        assert "quotes.state" in refused(world.verdict(quote["uri"], "quotes.state"))

    def test_a_held_quote_revoked_before_the_approval_is_not_boosted(self, world: World) -> None:
        """The quoted author revokes while the quote waits: the moderator's approval is refused
        (the post changed since it was held), and nothing is boosted."""
        jo = world.author()
        original = world.original(jo, text="Notes from our case conference.")
        quote = world.quote(original, text="Interesting")
        short_id = world.held_id(quote["uri"])
        remote = world.fed["remote"]
        remote.revoke_quote(jo, original, wait_for(lambda: remote.status_id(quote["uri"])))
        world.verdict(quote["uri"], "quotes.state")
        world.home.post(world.mira, f"@relaybot@{world.home.domain} approve {short_id}", visibility="direct")
        answer = world.wait_dm(world.mira, "home", f"{short_id} changed since it was held")
        assert "quotes.state: a quote in state revoked" in answer
        assert quote["uri"] not in world.relay.boosted_uris()

    def test_a_boosted_quote_whose_quoted_post_is_deleted_is_unboosted(self, world: World) -> None:
        """The quoted author deletes the quoted post: the quote's state is `deleted`, unboosted."""
        ivy = world.author()
        original = world.original(ivy, text="A thought on burnout.")
        quote = world.quote(original)
        short_id = world.held_id(quote["uri"])
        world.home.post(world.mira, f"@relaybot@{world.home.domain} approve {short_id}", visibility="direct")
        world.relay.wait_boosted(quote["uri"])
        world.fed["remote"].delete(ivy, original)
        world.relay.wait_log("post.edit_unboost", uri=quote["uri"])
        wait_for(lambda: quote["uri"] not in world.relay.boosted_uris(), what="the unboost")
        reasons = world.verdict(quote["uri"], "quotes.state").reasons
        assert "the quoted post was deleted" in next(r.detail for r in reasons if r.rule == "quotes.state")


def test_quotes_accept_boosts_a_harmless_quote(tmp_path: Path) -> None:
    """With `quotes = "accept"` in open mode, a clean accepted quote is boosted without a moderator."""
    with Fediverse(["home", "remote"], heartbeat=0.5) as fed:
        bot = fed["home"].create_account("relaybot", bot=True)
        quoter = fed["home"].create_account("quoter")
        author = fed["remote"].create_account("author")
        with connected_relay(tmp_path, fed, bot, extra='[rules]\nquotes = "accept"\n') as relay:
            original = fed["remote"].post(author, "Kind words.")
            home_id = wait_for(lambda: fed["home"].status_id(fed["remote"].status_uri(original)))
            quoting = fed["home"].quote(quoter, f"Agreed #{HASHTAG}", home_id)
            relay.wait_boosted(fed["home"].status_uri(quoting))
