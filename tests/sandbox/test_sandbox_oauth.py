"""OAuth: Mastodon.py's create_app, auth_request_url and log_in(code=...) work end to end."""

from __future__ import annotations

import re

import pytest
import requests
from mastodon import Mastodon, MastodonAPIError

from relay.sandbox import Instance, SeededAccount

SCOPES = ["read", "write"]


class TestCodeFlow:
    def test_create_app_authorize_page_and_log_in(self, home: Instance, alice: SeededAccount) -> None:
        """The out-of-band page shows a code for the logged-in account; log_in turns it into a token."""
        client_id, client_secret = Mastodon.create_app("relay", scopes=SCOPES, api_base_url=home.url)
        app = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=home.url)
        url = app.auth_request_url(scopes=SCOPES, allow_http=True)
        home.log_in(alice)
        page = requests.get(url, timeout=5)
        assert page.status_code == 200
        match = re.search(r'class="oauth-code" readonly type="text" value="([^"]+)"', page.text)
        assert match is not None
        token = app.log_in(code=match.group(1), scopes=SCOPES, allow_http=True)
        me = Mastodon(access_token=token, api_base_url=home.url)
        assert me.account_verify_credentials()["acct"] == "alice"
        assert me.app_verify_credentials()["name"] == "relay"

    def test_python_authorize_helper_and_scopes(self, home: Instance, alice: SeededAccount) -> None:
        """instance.authorize gives a code; a read-only token cannot post (403)."""
        client_id, client_secret = Mastodon.create_app("relay", scopes=SCOPES, api_base_url=home.url)
        app = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=home.url)
        code = home.authorize(alice, client_id, ["read"])
        token = app.log_in(code=code, scopes=["read"], allow_http=True)
        reader = Mastodon(access_token=token, api_base_url=home.url)
        with pytest.raises(MastodonAPIError) as caught:
            reader.status_post("not allowed")
        assert caught.value.args[1] == 403

    def test_code_is_single_use_and_revoke_works(self, home: Instance, alice: SeededAccount) -> None:
        """A code works once; /oauth/revoke invalidates the token it gave."""
        client_id, client_secret = Mastodon.create_app("relay", scopes=SCOPES, api_base_url=home.url)
        code = home.authorize(alice, client_id, SCOPES)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
        }
        first = requests.post(f"{home.url}/oauth/token", data=form, timeout=5)
        second = requests.post(f"{home.url}/oauth/token", data=form, timeout=5)
        assert first.status_code == 200
        assert second.json()["error"] == "invalid_grant"
        token = first.json()["access_token"]
        requests.post(
            f"{home.url}/oauth/revoke",
            timeout=5,
            data={"token": token, "client_id": client_id, "client_secret": client_secret},
        )
        check = requests.get(
            f"{home.url}/api/v1/accounts/verify_credentials",
            timeout=5,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert (check.status_code, check.json()) == (401, {"error": "The access token was revoked"})

    def test_authorize_without_logged_in_account_is_refused(self, home: Instance) -> None:
        """With nobody logged in, the authorize page gives no code."""
        client_id, _ = Mastodon.create_app("relay", scopes=SCOPES, api_base_url=home.url)
        page = requests.get(
            f"{home.url}/oauth/authorize",
            timeout=5,
            params={
                "client_id": client_id,
                "response_type": "code",
                "scope": "read",
                "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
            },
        )
        assert page.status_code == 401
        assert "oauth-code" not in page.text
