"""PURE: the community directory as people use it: a follow-import CSV and a static web page.

`follow_csv(accts)` is the file Mastodon's Settings → Import and export → Import takes as a
"Following list" (the header and columns of Mastodon's own export), so that a newcomer follows
everyone at once. `render_page(...)` is one self-contained HTML file: inline CSS and script (no
framework, nothing fetched from anywhere, no images), readable on a phone, with a text filter that
works from the keyboard, headings and labels for screen readers. Every piece of author text on it
goes through `sanitise` (nh3, the Python binding of the Rust `ammonia` sanitiser: an allow-list of
a few tags, `href` only on links, http(s) only), and a Content-Security-Policy lets only the page's
own style and script run, so a bio with `<script>`, an `onerror` attribute or a `javascript:`
link shows as text or not at all, and never runs.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import nh3

CSV_HEADER = ("Account address", "Show boosts", "Notify on new posts", "Languages")
"""Mastodon's following-list export header, which its import expects."""

CSV_NAME = "directory.csv"
PAGE_NAME = "index.html"

_TAGS = frozenset({"p", "br", "a", "span", "strong", "em", "b", "i", "ul", "ol", "li", "code"})
_ATTRIBUTES = {"a": {"href"}}
_SCHEMES = frozenset({"http", "https"})
_REL = "nofollow noopener noreferrer ugc"


def sanitise(markup: str) -> str:
    """Author HTML (a bio, a post) reduced to text, paragraphs, emphasis and http(s) links."""
    return nh3.clean(
        markup,
        tags=set(_TAGS),
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        url_schemes=set(_SCHEMES),
        link_rel=_REL,
        strip_comments=True,
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """One member as the page shows them (author text unsanitised: the page sanitises it)."""

    acct: str  # user@domain
    display_name: str  # plain text, as Mastodon gives it
    profile_url: str | None
    intro_html: str | None  # their introduction post, or None: the bio stands in
    intro_url: str | None
    bio_html: str
    joined: datetime


def follow_csv(accts: Iterable[str]) -> str:
    """The follow-import CSV of `accts` (each `user@domain`): boosts shown, no notifications."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for acct in accts:
        writer.writerow((acct, "true", "false", ""))
    return out.getvalue()


_STYLE = """
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #ffffff; --muted: #4a4a4a; --link: #0b4fa3;
  --line: #d0d0d0; --card: #f6f6f6; }
@media (prefers-color-scheme: dark) { :root { --fg: #ececec; --bg: #121212; --muted: #c2c2c2;
  --link: #9cc4ff; --line: #3a3a3a; --card: #1d1d1d; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 46rem; padding: 1rem; font: 1.05rem/1.55 system-ui, sans-serif;
  color: var(--fg); background: var(--bg); }
a { color: var(--link); }
a:focus-visible, input:focus-visible { outline: 3px solid var(--link); outline-offset: 2px; }
header p, .handle, .joined, footer { color: var(--muted); }
label { display: block; font-weight: 600; margin-top: 1rem; }
input { width: 100%; font: inherit; padding: .6rem; margin: .3rem 0; color: var(--fg);
  background: var(--bg); border: 2px solid var(--muted); border-radius: .4rem; }
ol { list-style: none; padding: 0; }
li.member { border: 1px solid var(--line); background: var(--card); border-radius: .5rem;
  padding: .8rem 1rem; margin: .8rem 0; overflow-wrap: anywhere; }
li.member h3 { margin: 0; font-size: 1.15rem; }
.handle, .joined { margin: .1rem 0; font-size: .95rem; }
.intro p { margin: .4rem 0; }
"""

_SCRIPT = """
(function () {
  var form = document.getElementById("filter-form");
  var input = document.getElementById("filter");
  var count = document.getElementById("count");
  var items = Array.prototype.slice.call(document.querySelectorAll("li.member"));
  var texts = items.map(function (li) { return li.textContent.toLowerCase(); });
  form.hidden = false;
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  function apply() {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (li, i) {
      var match = words.every(function (w) { return texts[i].indexOf(w) !== -1; });
      li.hidden = !match;
      if (match) { shown += 1; }
    });
    count.textContent = words.length ? shown + " of " + items.length + " shown" : "";
  }
  input.addEventListener("input", apply);
  apply();
})();
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


_CSP = (
    f"default-src 'none'; style-src {_hash(_STYLE)}; script-src {_hash(_SCRIPT)}; img-src 'none';"
    " base-uri 'none'; form-action 'none'"
)


def _entry(entry: Entry, n: int) -> str:
    esc = html.escape
    name = esc(entry.display_name.strip() or entry.acct.partition("@")[0])
    profile = entry.profile_url or ""
    heading = f'<a href="{esc(profile)}">{name}</a>' if _is_web(profile) else name
    intro = f'<div class="intro">{sanitise(entry.intro_html or entry.bio_html)}</div>'
    if entry.intro_html is not None and _is_web(entry.intro_url):
        intro += f'<p class="joined"><a href="{esc(entry.intro_url or "")}">Their introduction post</a></p>'
    when = entry.joined
    return (
        f'<li class="member"><article aria-labelledby="m{n}"><h3 id="m{n}">{heading}</h3>'
        f'<p class="handle">@{esc(entry.acct)}</p>{intro}'
        f'<p class="joined">Joined <time datetime="{when:%Y-%m-%d}">{when.day} {when:%B %Y}</time></p>'
        "</article></li>"
    )


def _is_web(url: str | None) -> bool:
    return url is not None and url.lower().startswith(("https://", "http://"))


def render_page(
    title: str,
    entries: Sequence[Entry],
    *,
    generated: datetime,
    csv_href: str = CSV_NAME,
    collections: Sequence[str] = (),
) -> str:
    """The directory as one HTML page (see the module docstring); `collections` are the URLs of
    the Mastodon Collections that hold the same members."""
    esc = html.escape
    n = len(entries)
    people = "person has" if n == 1 else "people have"
    follow_all = (
        f'<p><a href="{esc(csv_href)}" download>Follow everyone at once</a>: a list for Mastodon'
        " (Preferences → Import and export → Import, type “Following list”).</p>"
    )
    also = "".join(
        f'<li><a href="{esc(url)}">On Mastodon: Collection {i}</a></li>'
        for i, url in enumerate(collections, 1)
        if _is_web(url)
    )
    items = "\n".join(_entry(entry, i) for i, entry in enumerate(entries, 1))
    updated = f"{generated.day} {generated:%B %Y, %H:%M}"
    listing = f"<ol>\n{items}\n</ol>" if entries else "<p>Nobody has joined yet.</p>"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>{esc(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>{esc(title)}</h1>
<p>{n} {people} asked to be listed here. Each one joined by sending the relay's bot <code>join</code>,
and can leave with <code>leave</code>.</p>
{follow_all}
{f"<ul>{also}</ul>" if also else ""}
</header>
<main>
<h2>Members</h2>
<form id="filter-form" role="search" hidden>
<label for="filter">Filter by name, handle, server or words</label>
<input id="filter" type="search" autocomplete="off">
<p id="count" aria-live="polite"></p>
</form>
{listing}
</main>
<footer><p>Updated <time datetime="{generated:%Y-%m-%dT%H:%MZ}">{updated} UTC</time>.
No tracking, nothing loaded from elsewhere.</p></footer>
<script>{_SCRIPT}</script>
</body>
</html>
"""
