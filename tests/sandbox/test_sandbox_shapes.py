"""Sandbox JSON has the keys and JSON types of the Mastodon 4.6.4 recordings, recursively."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from paths import DATA

from relay.sandbox import Fediverse, Instance, SeededAccount

RECORDED: dict[str, Any] = json.loads((DATA / "sandbox/rest_shapes.json").read_text())
# Keys whose value may be null on one side and set on the other in real Mastodon responses.
NULLABLE = {
    "in_reply_to_id",
    "in_reply_to_account_id",
    "language",
    "edited_at",
    "reblog",
    "application",
    "last_status_at",
    "hide_collections",
    "discoverable",
    "website",
    "status",
    "message",
    "min_age",
    "url",
    "account",
    "terms_of_service",
    "source",
}
# Keys Mastodon includes only for some viewers ("pinned" only for the status's author).
OPTIONAL = {"pinned"}


def shape_errors(ours: Any, recorded: Any, path: str = "$") -> list[str]:
    """Differences in keys and JSON types between two documents (nulls allowed where nullable)."""
    key = path.rsplit(".", 1)[-1]
    if ours is None or recorded is None:
        if ours is recorded or key in NULLABLE:
            return []
        return [f"{path}: null vs {type(ours if recorded is None else recorded).__name__}"]
    if type(ours) is not type(recorded):
        return [f"{path}: {type(ours).__name__} != recorded {type(recorded).__name__}"]
    if isinstance(ours, dict):
        errors = [f"{path}: missing {k}" for k in recorded.keys() - ours.keys() - OPTIONAL]
        errors += [f"{path}: extra {k}" for k in ours.keys() - recorded.keys() - OPTIONAL]
        for k in ours.keys() & recorded.keys():
            errors += shape_errors(ours[k], recorded[k], f"{path}.{k}")
        return errors
    if isinstance(ours, list) and ours and recorded:
        return shape_errors(ours[0], recorded[0], f"{path}[0]")
    return []


@pytest.fixture
def api(home: Instance, alice: SeededAccount) -> Callable[..., requests.Response]:
    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {kwargs.pop('token', alice.token)}"}
        return requests.request(method, home.url + path, headers=headers, timeout=5, **kwargs)

    return call


@pytest.fixture
def documents(
    fediverse: Fediverse, home: Instance, alice: SeededAccount, api: Callable[..., requests.Response]
) -> dict[str, Any]:
    """One sandbox response for every recorded document kind."""
    dora = home.create_account("dora", note="<p>bio</p>", fields=[("Pronouns", "she/her")])
    home.follow(alice, "dora")
    remote = fediverse["remote"]
    bob = remote.create_account("bob")
    first = api("POST", "/api/v1/statuses", data={"status": "Toot #hoot"}, token=dora.token).json()
    reply = api(
        "POST", "/api/v1/statuses", data={"status": "@dora same!", "in_reply_to_id": first["id"]}
    ).json()
    edited = api("PUT", f"/api/v1/statuses/{reply['id']}", data={"status": "@dora edited"}).json()
    remote_post = requests.post(
        f"{remote.url}/api/v1/statuses",
        data={"status": "far away"},
        headers={"Authorization": f"Bearer {bob.token}"},
        timeout=5,
    )
    own = api("POST", "/api/v1/statuses", data={"status": "to delete"}).json()
    api("POST", "/api/v1/statuses", data={"status": "@alice dm", "visibility": "direct"}, token=dora.token)
    app = requests.post(f"{home.url}/api/v1/apps", data={"client_name": "shapes"}, timeout=5)
    app_token = home.create_app_token()
    return {
        "status": reply,
        "status_hashtag": api("GET", "/api/v1/timelines/tag/hoot").json()[0],
        "status_reblog": api("POST", f"/api/v1/statuses/{first['id']}/reblog").json(),
        "status_edited": edited,
        "status_deleted": api("DELETE", f"/api/v1/statuses/{own['id']}").json(),
        "account_credentials": api("GET", "/api/v1/accounts/verify_credentials").json(),
        "account": api("GET", f"/api/v1/accounts/{dora.id}").json(),
        "notification": api("GET", "/api/v1/notifications").json()[0],
        "search": api(
            "GET", "/api/v2/search", params={"q": remote_post.json()["url"], "resolve": "1"}
        ).json(),
        "search_accounts": api("GET", "/api/v2/search", params={"q": "dora"}).json(),
        "instance_v1": api("GET", "/api/v1/instance").json(),
        "instance_v2": api("GET", "/api/v2/instance").json(),
        "relationship": api("GET", "/api/v1/accounts/relationships", params={"id[]": dora.id}).json()[0],
        "app": requests.get(
            f"{home.url}/api/v1/apps/verify_credentials",
            timeout=5,
            headers={"Authorization": f"Bearer {app_token}"},
        ).json(),
        "app_created": app.json(),
        "conversation": api("GET", "/api/v1/conversations").json()[0],
        "context": api("GET", f"/api/v1/statuses/{first['id']}/context").json(),
        "error_not_found": api("GET", "/api/v1/statuses/0").json(),
        "error_validation": api("POST", "/api/v1/statuses", data={"status": "a" * 501}).json(),
        "oauth_server": api("GET", "/.well-known/oauth-authorization-server").json(),
    }


COMPARED = {
    "status": "status",
    "status_hashtag": "status_hashtag",
    "status_reblog": "status_reblog",
    "status_edited": "status_edited",
    "status_deleted": "status_deleted",
    "account_credentials": "account_credentials",
    "account": "account",
    "notification": "notification",
    "search_accounts": "search",
    "instance_v1": "instance_v1",
    "instance_v2": "instance_v2",
    "relationship": "relationship",
    "app": "app",
    "conversation": "conversation",
    "error_not_found": "error_not_found",
    "error_validation": "error_validation",
    "oauth_server": "oauth_server",
}


class TestShapes:
    @pytest.mark.parametrize(("ours", "recorded"), sorted(COMPARED.items()))
    def test_same_keys_and_types_as_recording(
        self, documents: dict[str, Any], ours: str, recorded: str
    ) -> None:
        """The sandbox document has exactly the recorded keys, with the recorded JSON types."""
        assert shape_errors(documents[ours], RECORDED[recorded]) == []

    def test_resolved_status_search_result(self, documents: dict[str, Any]) -> None:
        """A resolved URL search returns the status in the recorded search-result shape."""
        result = documents["search"]
        assert set(result) == set(RECORDED["search"])
        assert shape_errors(result["statuses"][0], RECORDED["status"]) == []

    def test_app_created_has_credentials(self, documents: dict[str, Any]) -> None:
        """POST /api/v1/apps returns the app plus client id and secret."""
        created = documents["app_created"]
        assert (
            shape_errors({k: v for k, v in created.items() if not k.startswith("client_")}, RECORDED["app"])
            == []
        )
        assert {"client_id", "client_secret"} <= set(created)

    def test_context_lists_reply(self, documents: dict[str, Any]) -> None:
        """The thread context has ancestors and descendants with status shapes."""
        context = documents["context"]
        assert set(context) == set(RECORDED["context"])
        assert shape_errors(context["descendants"][0], RECORDED["status"]) == []
