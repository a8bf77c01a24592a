"""Real Mastodon 4.6 statuses from the recorded cassettes, and a deterministic generator of many more.

`real_statuses()` gives every status body the cassettes hold (REST responses and timeline lists).
`generate(n, seed)` varies a real status into `n` statuses that exercise every screening rule:
visibility, replies, boosts, bots and groups, #nobot bios, remote and local accounts, content
warnings, media with and without alt text, languages, spam shapes and repeated texts.
"""

from __future__ import annotations

import copy
import functools
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from paths import FIXTURES

HOME = "localhost:3000"  # the instance the cassettes were recorded on


def _is_status(value: object) -> bool:
    return isinstance(value, dict) and "visibility" in value and "account" in value


def real_statuses() -> list[dict[str, Any]]:
    """Every status object in the cassettes, top-level or in a list."""
    found = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        for body in cassette_bodies(path.name):
            if body is None:
                continue
            items = body if isinstance(body, list) else [body]
            found.extend(item for item in items if _is_status(item))
    return found


def status(cassette: str, index: int) -> dict[str, Any]:
    """A deep copy of the status in response `index` of `cassette` (first item of a list)."""
    body = cassette_bodies(cassette)[index]
    body = body[0] if isinstance(body, list) else body
    assert _is_status(body), f"{cassette}[{index}] is not a status"
    return copy.deepcopy(body)


@functools.cache
def _body_strings(name: str) -> tuple[str, ...]:
    """`interactions[i].response.body.string` of a cassette, read once per test run."""
    doc = yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))
    return tuple(i["response"]["body"]["string"] for i in doc["interactions"])


def cassette_bodies(name: str) -> list[Any]:
    """Response bodies by interaction index, freshly decoded (None where the body is not JSON)."""
    result: list[Any] = []
    for body in _body_strings(name):
        try:
            result.append(json.loads(body))
        except (json.JSONDecodeError, TypeError):
            result.append(None)
    return result


def hoot() -> dict[str, Any]:
    """The real public `#hoot` status from the tag timeline cassette."""
    return status("hashtag_tl.yaml", 2)


WORDS = (
    "hello",
    "colleagues",
    "I",
    "am",
    "a",
    "therapist",
    "working",
    "with",
    "families",
    "and",
    "young",
    "people",
    "in",
    "Lisbon",
    "new",
    "paper",
    "on",
    "trauma",
    "informed",
    "care",
    "group",
    "supervision",
    "is",
    "open",
    "for",
    "booking",
    "this",
    "autumn",
    "café",
    "conversation",
    "about",
    "burnout",
    "résumé",
    "workshop",
    "mindfulness",
    "somatic",
    "practice",
)
DOMAINS = ("therapists.social", "mastodon.social", "psy.example", "spam.example", "sub.spam.example")
LANGS = ("en", "en", "en", "de", "pt", "fr", None)


def generate(count: int, *, seed: int = 20261125, tag: str = "TherapistsConnect") -> list[dict[str, Any]]:
    """`count` varied statuses built from a real one, the same for the same seed."""
    rng = random.Random(seed)
    quotes = random.Random(seed + 1)  # its own stream: the statuses are the same with or without quotes
    base = hoot()
    start = datetime(2026, 8, 1, tzinfo=UTC)
    authors = [f"user{i}" for i in range(60)]
    out = []
    for number in range(count):
        item = copy.deepcopy(base)
        user = rng.choice(authors)
        words = rng.sample(WORDS, rng.randrange(3, 12))
        if rng.random() < 0.1:
            user, words = "user7", ["hello", "colleagues", "same", "old", "text"]  # a repeated text
        domain = DOMAINS[authors.index(user) % len(DOMAINS)]
        local = domain == "therapists.social" and rng.random() < 0.5
        account = item["account"]
        account.update(
            id=str(1000 + authors.index(user)),
            username=user,
            acct=user if local else f"{user}@{domain}",
            url=f"https://{domain}/@{user}",
            uri=f"https://{domain}/users/{user}",
            bot=rng.random() < 0.05,
            group=rng.random() < 0.03,
            note="<p>I help people. #nobot</p>" if rng.random() < 0.04 else "<p>Therapist.</p>",
            statuses_count=rng.randrange(0, 500),
            indexable=rng.random() < 0.3,
        )
        tags = [tag] if rng.random() < 0.92 else ["Other"]
        tags += rng.sample(
            ["psychology", "mentalhealth", "CBT", "intro", "Therapie", "psy"], rng.randrange(0, 6)
        )
        if rng.random() < 0.05:
            tags += [f"spam{i}" for i in range(12)]
        links = "".join(
            f' <a href="https://example.org/{i}" rel="nofollow noopener" target="_blank">example.org/{i}</a>'
            for i in range(rng.choice((0, 0, 1, 2, 5)))
        )
        tag_html = " ".join(
            f'<a href="https://{domain}/tags/{t}" class="mention hashtag" rel="tag">#<span>{t}</span></a>'
            for t in tags
        )
        created = start + timedelta(minutes=number * 7 + rng.randrange(0, 5))
        item.update(
            id=str(117020593741189701 + number),
            uri=f"https://{domain}/users/{user}/statuses/{number}",
            url=f"https://{domain}/@{user}/{number}",
            created_at=created.isoformat().replace("+00:00", "Z"),
            visibility=rng.choice(("public",) * 8 + ("unlisted", "private", "direct")),
            language=rng.choice(LANGS),
            content=f"<p>{' '.join(words)}{links}</p><p>{tag_html}</p>",
            tags=[{"name": t, "url": f"https://{domain}/tags/{t.lower()}"} for t in tags],
            spoiler_text="therapy talk" if rng.random() < 0.08 else "",
            sensitive=rng.random() < 0.08,
            mentions=[
                {
                    "id": str(i),
                    "username": f"m{i}",
                    "acct": f"m{i}@x.example",
                    "url": f"https://x.example/@m{i}",
                }
                for i in range(7 if rng.random() < 0.05 else rng.randrange(0, 2))
            ],
            media_attachments=[
                {
                    "id": str(number),
                    "type": "image",
                    "url": f"https://{domain}/m/{number}.png",
                    "description": rng.choice(("a chair by a window", "", None)),
                }
            ]
            if rng.random() < 0.15
            else [],
        )
        if quotes.random() < 0.08:
            item["quote"] = _generated_quote(quotes, number)
        if rng.random() < 0.12:
            item["in_reply_to_id"] = str(117020593741189000 + rng.randrange(100))
            item["in_reply_to_account_id"] = "1001"
        if rng.random() < 0.04:
            booster = copy.deepcopy(account)
            booster.update(acct=f"booster@{domain}", username="booster", id="999")
            item = {
                **copy.deepcopy(base),
                "id": f"9{number}",
                "uri": f"{item['uri']}/activity",
                "content": "",
                "tags": [],
                "account": booster,
                "reblog": item,
            }
        out.append(item)
    return out


QUOTE_STATES = ("accepted",) * 6 + ("pending", "revoked", "deleted", "rejected")


def _generated_quote(rng: random.Random, number: int) -> dict[str, Any]:
    """A quote (Mastodon 4.5) for generated status `number`: mostly accepted, of a post by a
    therapist, a #nobot author (never to be spread by a quote) or someone using a reject word."""
    state = rng.choice(QUOTE_STATES)
    kind = rng.choice(("plain", "plain", "nobot", "crypto"))
    quoted = quoted_status(
        user={"plain": "quoted", "nobot": "nora", "crypto": "quickcash"}[kind],
        domain="psy.example",
        text="Buy crypto now" if kind == "crypto" else "On supervision and burnout.",
        note="<p>Please do not boost me #nobot</p>" if kind == "nobot" else "<p>Therapist.</p>",
    )
    quoted.update(id=str(117020593741100000 + number), uri=f"https://psy.example/users/q/statuses/{number}")
    return {"state": state, "quoted_status": quoted if state == "accepted" else None}


def write_json_lines(path: Path, statuses: list[dict[str, Any]]) -> Path:
    """Write statuses one per line; return `path`."""
    path.write_text("".join(json.dumps(s) + "\n" for s in statuses), encoding="utf-8")
    return path


def quoted_status(
    *, user: str = "quoted", domain: str = "elsewhere.example", text: str = "My own words.", **account: Any
) -> dict[str, Any]:
    """A real status re-dressed as a post by `user@domain` saying `text` (to be quoted), with
    `account` fields changed (e.g. `note="<p>#nobot</p>"`, `bot=True`)."""
    item = hoot()
    item["account"].update(
        id="5000",
        username=user,
        acct=f"{user}@{domain}",
        url=f"https://{domain}/@{user}",
        uri=f"https://{domain}/users/{user}",
        **account,
    )
    item.update(
        id="117020593741180000",
        uri=f"https://{domain}/users/{user}/statuses/1",
        url=f"https://{domain}/@{user}/1",
        content=f"<p>{text}</p>",
        tags=[],
        quote_approval={"automatic": ["public"], "manual": [], "current_user": "automatic"},
    )
    return item


def quote_status(
    quoted: dict[str, Any] | None = None, state: str = "accepted", **quote: Any
) -> dict[str, Any]:
    """The real `#hoot` status quoting `quoted` (Mastodon 4.5's `quote: {state, quoted_status}`;
    `quoted_status` is null but for the states Mastodon shows it in), with `quote` keys changed."""
    item = hoot()
    shown = state in ("accepted", "blocked_account", "blocked_domain", "muted_account")
    item["quote"] = {"state": state, "quoted_status": quoted if shown else None, **quote}
    return item
