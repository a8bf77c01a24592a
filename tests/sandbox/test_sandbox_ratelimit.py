"""Rate limits: headers on every API response, 429 when exhausted, separate budgets."""

from __future__ import annotations

import re

import requests

from relay.sandbox import Budget, Fediverse, RateLimits

RESET = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")


def small_limits() -> RateLimits:
    return RateLimits(api=Budget(5, 300), paging=Budget(2, 900), unreblog_delete=Budget(1, 1800))


class TestRateLimits:
    def test_headers_on_every_response_and_429_when_exhausted(self) -> None:
        """Each API response has the three headers; the request after the budget gets 429."""
        with Fediverse(["home"], rate_limits=small_limits()) as fed:
            home = fed["home"]
            alice = home.create_account("alice")
            auth = {"Authorization": f"Bearer {alice.token}"}
            url = f"{home.url}/api/v1/accounts/verify_credentials"
            responses = [requests.get(url, headers=auth, timeout=5) for _ in range(6)]
        remaining = [r.headers["X-RateLimit-Remaining"] for r in responses]
        assert remaining == ["4", "3", "2", "1", "0", "0"]
        assert all(r.headers["X-RateLimit-Limit"] == "5" for r in responses)
        assert all(RESET.match(r.headers["X-RateLimit-Reset"]) for r in responses)
        assert responses[-1].status_code == 429
        assert responses[-1].json() == {"error": "Too many requests"}
        assert home.limiter.refused == 1  # the 429s met, as the server counts them

    def test_budgets_are_per_token(self) -> None:
        """One token's exhausted budget does not limit another token."""
        with Fediverse(["home"], rate_limits=small_limits()) as fed:
            home = fed["home"]
            alice, dora = home.create_account("alice"), home.create_account("dora")
            url = f"{home.url}/api/v1/accounts/verify_credentials"
            for _ in range(5):
                requests.get(url, headers={"Authorization": f"Bearer {alice.token}"}, timeout=5)
            other = requests.get(url, headers={"Authorization": f"Bearer {dora.token}"}, timeout=5)
        assert other.status_code == 200

    def test_paging_budget_is_separate(self) -> None:
        """Requests with max_id/min_id/since_id exhaust the paging budget, not plain requests."""
        with Fediverse(["home"], rate_limits=small_limits()) as fed:
            home = fed["home"]
            url = f"{home.url}/api/v1/timelines/tag/relay"
            paged = [requests.get(url, params={"min_id": "1"}, timeout=5) for _ in range(3)]
            plain = requests.get(url, timeout=5)
        assert [r.status_code for r in paged] == [200, 200, 429]
        assert paged[-1].headers["X-RateLimit-Limit"] == "2"
        assert plain.status_code == 200

    def test_unreblog_and_delete_budget_is_separate(self) -> None:
        """The unreblog/delete budget runs out on its own while other writes still work."""
        with Fediverse(["home"], rate_limits=small_limits()) as fed:
            home = fed["home"]
            alice = home.create_account("alice")
            auth = {"Authorization": f"Bearer {alice.token}"}
            post = requests.post(
                f"{home.url}/api/v1/statuses", data={"status": "x"}, headers=auth, timeout=5
            ).json()
            first = requests.post(
                f"{home.url}/api/v1/statuses/{post['id']}/unreblog", headers=auth, timeout=5
            )
            second = requests.delete(f"{home.url}/api/v1/statuses/{post['id']}", headers=auth, timeout=5)
            still = requests.get(f"{home.url}/api/v1/statuses/{post['id']}", headers=auth, timeout=5)
        assert first.status_code == 200
        assert (second.status_code, second.json()) == (429, {"error": "Too many requests"})
        assert second.headers["X-RateLimit-Limit"] == "1"
        assert still.status_code == 200
