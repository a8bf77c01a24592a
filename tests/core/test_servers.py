"""Which server an instance runs, from its nodeinfo (plain data)."""

from __future__ import annotations

import pytest

from relay.core.servers import FAMILIES, kind_of_family, server_kind


@pytest.mark.parametrize(
    ("name", "family", "sse", "hashtag_stream"),
    [
        ("mastodon", "mastodon", True, "multiplexed"),
        ("Hometown", "mastodon", True, "multiplexed"),
        ("gotosocial", "gotosocial", False, "follow"),
        ("pleroma", "pleroma", False, "multiplexed"),
        ("akkoma", "akkoma", False, "per-connection"),
        ("Iceshrimp.NET", "iceshrimp", False, "multiplexed"),
        ("sharkey", "rest-only", False, "none"),
        ("friendica", "rest-only", False, "none"),
        ("mitra", "rest-only", False, "none"),
        ("somethingnew", "unknown", True, "multiplexed"),
    ],
)
def test_server_kind_from_nodeinfo_software(name: str, family: str, sse: bool, hashtag_stream: str) -> None:
    """Each server's nodeinfo name maps to its family; the name and version are kept as written."""
    kind = server_kind({"software": {"name": name, "version": "v0.20.0-rc1"}})
    assert (kind.family, kind.sse, kind.hashtag_stream) == (family, sse, hashtag_stream)
    assert kind.label == f"{name} v0.20.0-rc1"


def test_gotosocial_and_akkoma_facts() -> None:
    """GoToSocial: no account uri; Akkoma: no rate headers; Mitra pages back; REST-only never streams."""
    assert server_kind({"software": {"name": "gotosocial"}}).account_uri is False
    assert server_kind({"software": {"name": "akkoma"}}).rate_headers is False
    assert server_kind({"software": {"name": "mitra"}}).paging == "max_id"
    assert server_kind({"software": {"name": "snac"}}).streams is False
    assert server_kind({"software": {"name": "mastodon"}}).streams is True


@pytest.mark.parametrize("doc", [None, {}, {"software": "mastodon"}, {"software": {"name": 3}}, []])
def test_malformed_nodeinfo_is_unknown(doc: object) -> None:
    """A missing or malformed nodeinfo is an unknown, Mastodon-compatible server, never an error."""
    kind = server_kind(doc)  # type: ignore[arg-type]
    assert kind.family == "unknown"
    assert kind.sse
    assert kind.websocket


def test_kind_of_family_names_every_family_and_refuses_others() -> None:
    """relay.toml may name a family; a wrong name says which ones exist."""
    assert [kind_of_family(f).family for f in FAMILIES] == list(FAMILIES)
    with pytest.raises(ValueError, match="gotosocial"):
        kind_of_family("gts")


def test_pleroma_and_akkoma_take_the_websocket_token_in_the_query() -> None:
    """Their WebsocketHandler reads `access_token` or Sec-WebSocket-Protocol, never Authorization."""
    for name in ("pleroma", "akkoma"):
        assert server_kind({"software": {"name": name, "version": "1"}}).ws_auth == "query"
    assert server_kind({"software": {"name": "mastodon", "version": "4.6.4"}}).ws_auth == "header"
