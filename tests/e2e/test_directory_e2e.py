"""End to end: the directory through the real `relay run` process and a sandbox fediverse.

People DM the bot `join`; the relay lists them in the follow-import CSV, on the static page in
`[directory] html_dir` and in a Mastodon Collection on the home instance (their item pending until
their server accepts); `intro` in reply to one's own post changes the introduction; `leave`,
`optout`, a moderator's `unlist` and a moderator's block take them out of all three.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from relayproc import RelayProcess, run_relay, wait_for
from test_moderation_e2e import Person, bot_handle

from relay.core.directory import CSV_NAME, PAGE_NAME
from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.store.store import Store


class Directory:
    """One relay with a directory folder, a moderator (mira) and people who join."""

    def __init__(self, folder: Path, fed: Fediverse) -> None:
        self.fed = fed
        self.bot = fed["home"].create_account("relaybot", bot=True)
        self.handle = bot_handle(fed, self.bot)
        self.mira = self.person("home", "mira")
        self.site = folder / "site"
        self.relay = RelayProcess(
            folder,
            fed,
            self.bot,
            mode="review",
            moderators=(self.mira.acct,),
            moderation='dm_policy = "accept"\nrefusal_interval = 3600',
            extra='[directory]\nhtml_dir = "site"\ncollections_refresh_seconds = 1\n',
        )

    def person(self, instance: str, username: str, **profile: Any) -> Person:
        inst: Instance = self.fed[instance]
        account: SeededAccount = inst.create_account(username, indexable=True, **profile)
        inst.follow(account, self.handle)
        return Person(inst, account, self.bot, self.handle)

    def csv(self) -> str:
        path = self.site / CSV_NAME
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def page(self) -> str:
        path = self.site / PAGE_NAME
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def featured(self) -> dict[str, str]:
        """Account URI → item state, over the bot's Collections on the home instance."""
        return {i.account.uri: i.state for c in self.fed["home"].collections() for i in c.items}

    def listed(self, person: Person) -> bool:
        return f"{person.acct},true,false," in self.csv() and f"@{person.acct}" in self.page()

    def wait_listed(self, person: Person) -> None:
        wait_for(lambda: self.listed(person), what=f"{person.acct} on the page and in the CSV")
        wait_for(lambda: person.account.uri in self.featured(), what=f"{person.acct} in a Collection")

    def wait_gone(self, person: Person) -> None:
        wait_for(
            lambda: f"{person.acct}," not in self.csv() and f"@{person.acct}" not in self.page(),
            what=f"{person.acct} off the page and the CSV",
        )
        wait_for(
            lambda: person.account.uri not in self.featured(), what=f"{person.acct} out of the Collections"
        )

    def join(self, person: Person) -> None:
        asked = person.dm("join")
        person.wait_reply(asked, "Welcome")
        self.wait_listed(person)


@pytest.fixture(scope="class")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    with Fediverse(["home", "remote"], heartbeat=0.5) as fed:
        d = Directory(tmp_path_factory.mktemp("directory"), fed)
        with d.relay:
            d.relay.wait_log("stream.connected", stream=f"{fed['home'].domain} notifications")
            d.relay.wait_log("mentions.fetched")
            yield d


class TestDirectoryByDM:
    def test_join_lists_in_csv_page_and_collection(self, directory: Directory) -> None:
        """`join` lists the sender in the CSV, on the page and in the Collection, pending until their
        server accepts; `relay directory --csv` prints the same list."""
        ann = directory.person("remote", "ann", display_name="Ann Lee", note="<p>Counsellor in Leeds</p>")
        directory.fed["remote"].set_feature_approval(ann.account, "manual")
        directory.join(ann)
        assert "Counsellor in Leeds" in directory.page()
        assert directory.featured()[ann.account.uri] == "pending"
        directory.fed["remote"].answer_feature_requests(ann.account, accept=True)
        with Store.open(directory.relay.state, readonly=True) as store:
            wait_for(
                lambda: (m := store.members.get(ann.acct)) is not None and m.item_state == "accepted",
                what="the accepted state read back by the relay",
            )
        printed = run_relay("directory", "--csv", "-c", str(directory.relay.config))
        assert printed.returncode == 0, printed.stderr
        assert f"{ann.acct},true,false," in printed.stdout.splitlines()

    def test_intro_in_reply_to_own_post(self, directory: Directory) -> None:
        """`intro` in reply to one's own public post makes it the introduction on the page."""
        ivy = directory.person("home", "ivy")
        directory.join(ivy)
        post = ivy.post("Hi, I am Ivy, an art therapist in Bristol")
        asked = ivy.dm("intro", in_reply_to_id=post["id"])
        ivy.wait_reply(asked, "is your introduction")
        wait_for(
            lambda: "an art therapist in Bristol" in directory.page(), what="the introduction on the page"
        )

    @pytest.mark.parametrize(("instance", "command"), [("home", "leave"), ("remote", "optout")])
    def test_leave_and_optout_remove(self, directory: Directory, instance: str, command: str) -> None:
        """`leave`, and an author's `optout`, take the sender off the page, out of the CSV and out of
        the Collection."""
        person = directory.person(instance, f"{command}r")
        directory.join(person)
        asked = person.dm(command)
        person.wait_reply(asked, "no longer in the directory")
        directory.wait_gone(person)

    def test_moderator_block_and_unlist_remove(self, directory: Directory) -> None:
        """A moderator's `block` of a member and `unlist` of another take both out."""
        bart = directory.person("remote", "bart")
        una = directory.person("home", "una")
        directory.join(bart)
        directory.join(una)
        blocked = directory.mira.dm(f"block {bart.acct} spam")
        directory.mira.wait_reply(blocked, f"Took {bart.acct} out of the directory")
        unlisted = directory.mira.dm(f"unlist {una.acct}")
        directory.mira.wait_reply(unlisted, f"Took {una.acct} out of the directory")
        directory.wait_gone(bart)
        directory.wait_gone(una)

    def test_nobody_is_listed_without_asking(self, directory: Directory) -> None:
        """Someone who only posts with the hashtag, or says `join` in public, is not listed."""
        quiet = directory.person("home", "quiet")
        quiet.post("Hello #TherapistsConnect")
        asked = quiet.dm("join", visibility="public")
        quiet.wait_reply(asked, "only by direct message")
        assert f"{quiet.acct}," not in directory.csv()
        with Store.open(directory.relay.state, readonly=True) as store:
            assert store.members.get(quiet.acct) is None

    def test_no_errors(self, directory: Directory) -> None:
        """Nothing in the directory's work failed along the way (last in the class)."""
        assert [e for e in directory.relay.logs() if e.get("event") == "directory.error"] == []
