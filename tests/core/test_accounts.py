"""Account handles: one canonical form, and the callers that used to keep their own copy agree on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.config.load import parse_config
from relay.config.rules import parse_rules
from relay.core.accounts import AccountId, bare_acct, domain_of, full_acct, norm_acct, parse_host
from relay.core.mastodon_json import read_author
from relay.moderation.handles import Domain, parse_handle, parse_target

WRITTEN = [
    ("alice@example.social", "alice@example.social"),
    ("@alice@example.social", "alice@example.social"),
    ("  @Alice@Example.Social\n", "alice@example.social"),
    ("@@alice@example.social", "alice@example.social"),  # "@" typed before a pasted "@alice@..."
]


@pytest.mark.parametrize(("written", "canonical"), WRITTEN)
def test_norm_acct_strips_space_and_every_leading_at_and_lowers(written: str, canonical: str) -> None:
    """The canonical form has no surrounding space, no leading `@` however many, and no upper case."""
    assert norm_acct(written) == canonical


def test_bare_acct_keeps_the_case_the_server_wrote() -> None:
    """Account JSON keeps its user name's case for display; only what surrounds it goes."""
    assert bare_acct(" @@Alice@Example.Social ") == "Alice@Example.Social"


def test_full_acct_gives_a_local_handle_the_domain() -> None:
    """A server's own account (no domain in its `acct`) gets the server's domain; a full one keeps its own."""
    assert full_acct("@Bob", "Home.Example") == "bob@home.example"
    assert full_acct("bob@other.example", "home.example") == "bob@other.example"


def test_domain_of() -> None:
    """The domain of a full handle in lower case; None for a handle without one."""
    assert domain_of("@Alice@Example.Social") == "example.social"
    assert domain_of("alice") is None
    assert domain_of("alice@") is None


@pytest.mark.parametrize(("written", "canonical"), WRITTEN)
def test_relay_toml_dm_commands_and_account_json_agree(written: str, canonical: str, tmp_path: Path) -> None:
    """relay.toml's `trusted` and `moderators`, a DM's `trust` and account JSON give the stored handle.

    The store and the DM command used to strip one `@`, relay.toml and account JSON every one: a
    handle written `@@alice@...` was trusted from relay.toml but refused by the DM command."""
    rules = parse_rules(
        {"blocks": {"trusted": [written]}},
        base_dir=tmp_path,
        source="relay.toml",
        hashtags=["TherapistsConnect"],
        mode="review",
        self_acct=None,
    )
    assert rules.blocks.trusted == frozenset({canonical})
    doc = {"hashtags": ["TherapistsConnect"], "home": {"url": "https://example.social"}}
    doc["moderation"] = {"moderators": [written]}
    assert parse_config(doc, path=tmp_path / "relay.toml").moderation.moderators == (canonical,)
    assert parse_handle(written) == canonical
    assert norm_acct(read_author({"acct": written}, "example.social").acct) == canonical


DOMAINS = [
    ("spam.example", "spam.example"),
    ("Spam.Example", "spam.example"),
    ("spam.example.", "spam.example"),  # the root's dot, as DNS writes it
    ("bücher.example", "xn--bcher-kva.example"),  # as Mastodon stores it: punycode
    ("localhost:3000", "localhost:3000"),
]


@pytest.mark.parametrize(("written", "canonical"), DOMAINS)
def test_relay_toml_block_files_and_dm_commands_read_a_domain_alike(
    written: str, canonical: str, tmp_path: Path
) -> None:
    """A domain in relay.toml's `[rules.blocks] domains`, in a block-list file and in a DM's `block`
    is the same stored domain: one rule, `parse_host`. relay.toml and the file used to keep
    international names as written (Mastodon sends punycode) and to accept `under_score` labels."""
    (tmp_path / "blocks.txt").write_text(f"{written}\n")
    rules = parse_rules(
        {"blocks": {"domains": [written], "domain_block_file": "blocks.txt"}},
        base_dir=tmp_path,
        source="relay.toml",
        hashtags=["TherapistsConnect"],
        mode="review",
        self_acct=None,
    )
    assert rules.blocks.domains == frozenset({canonical})
    assert parse_target(written) == Domain(canonical)


@pytest.mark.parametrize(
    "bad", ["spam", "spam..example", "-spam.example", "spam.example:99999", "sp am.example"]
)
def test_a_name_that_is_not_a_host_is_refused(bad: str) -> None:
    """`parse_host` refuses what no server could be called, with or without a port."""
    assert parse_host(bad, any_port=True) is None


class TestAccountId:
    def test_of_account_json(self) -> None:
        """uri and id are read from account JSON; a missing or odd field is empty."""
        assert AccountId.of({"uri": "https://h.example/users/a", "id": 7}) == AccountId(
            "https://h.example/users/a", "7"
        )
        assert AccountId.of({"id": "01HX"}) == AccountId("", "01HX")
        assert AccountId.of({"uri": None, "id": None}) == AccountId()
        pleroma = {"id": "AbC", "pleroma": {"ap_id": "https://p.example/users/a"}}
        assert AccountId.of(pleroma) == AccountId("https://p.example/users/a", "AbC")
        assert not AccountId.of({}).known

    def test_matches_every_shared_part(self) -> None:
        """Equal where both give a part, and at least one part shared; nothing shared: no match."""
        full = AccountId("https://h.example/users/a", "1")
        assert full.matches(AccountId("https://h.example/users/a", "1"))
        assert full.matches(AccountId("", "1"))  # GoToSocial: no uri, the home id decides
        assert not full.matches(AccountId("", "2"))
        assert not full.matches(AccountId("https://evil.example/users/a", "1"))
        assert not full.matches(AccountId())
        assert not AccountId().matches(AccountId())
