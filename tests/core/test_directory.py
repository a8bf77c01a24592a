"""The directory's pure parts: the follow-import CSV, the sanitiser, the page."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from relay.core.directory import CSV_HEADER, Entry, follow_csv, render_page, sanitise

JOINED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EVIL_BIO = (
    '<p>Hi<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'
    '<a href="javascript:document.title=1">click</a> <a href="https://ok.example/" onclick="x()">ok</a></p>'
)


def entry(acct: str = "ann@one.example", **changes: object) -> Entry:
    """An entry with a bio and no introduction post."""
    values: dict[str, object] = {
        "acct": acct,
        "display_name": "Ann <b>Therapist</b>",
        "profile_url": "https://one.example/@ann",
        "intro_html": None,
        "intro_url": None,
        "bio_html": "<p>Counsellor in Leeds</p>",
        "joined": JOINED,
    }
    values.update(changes)
    return Entry(**values)  # type: ignore[arg-type]


class TestFollowCsv:
    def test_mastodon_import_format(self) -> None:
        """The header is Mastodon's own export's; each row shows boosts, no notifications, any language."""
        text = follow_csv(["ann@one.example", "bob@two.example"])
        assert text.splitlines() == [
            "Account address,Show boosts,Notify on new posts,Languages",
            "ann@one.example,true,false,",
            "bob@two.example,true,false,",
        ]
        assert tuple(next(csv.reader(io.StringIO(text)))) == CSV_HEADER

    def test_empty(self) -> None:
        """Nobody: the header alone, which Mastodon takes as an empty list."""
        assert follow_csv([]) == ",".join(CSV_HEADER) + "\n"


class TestSanitise:
    def test_script_handlers_and_javascript_links_go(self) -> None:
        """Scripts, event handlers and javascript: URLs are removed; text and https links stay."""
        clean = sanitise(EVIL_BIO)
        assert "<script" not in clean
        assert "onerror" not in clean
        assert "onclick" not in clean
        assert "javascript:" not in clean
        assert "<img" not in clean
        assert '<a href="https://ok.example/" rel="nofollow noopener noreferrer ugc">ok</a>' in clean
        assert clean.startswith("<p>Hi")

    def test_mastodon_markup_survives(self) -> None:
        """A post's paragraphs, line breaks and links stay readable."""
        post = (
            '<p>Hello<br>I am <a href="https://one.example/tags/x" class="mention hashtag">'
            "#<span>x</span></a></p>"
        )
        assert sanitise(post) == (
            '<p>Hello<br>I am <a href="https://one.example/tags/x" rel="nofollow noopener noreferrer ugc">'
            "#<span>x</span></a></p>"
        )


class TestPage:
    def test_entries_and_author_text(self) -> None:
        """Each member's name (escaped), handle, profile link, text and join date are on the page."""
        page = render_page(
            "#T directory", [entry(), entry("bob@two.example", display_name="")], generated=JOINED
        )
        assert "Ann &lt;b&gt;Therapist&lt;/b&gt;" in page
        assert '<a href="https://one.example/@ann">' in page
        assert "@ann@one.example" in page
        assert "<p>Counsellor in Leeds</p>" in page
        assert '<time datetime="2026-11-25">25 November 2026</time>' in page
        assert ">bob</a>" in page  # no display name: the user name stands in
        assert "2 people have asked to be listed" in page
        assert '<a href="directory.csv" download>' in page

    def test_introduction_post_over_bio(self) -> None:
        """With an introduction, the page shows it and links to it instead of the bio."""
        page = render_page(
            "T",
            [entry(intro_html="<p>Hello #T</p>", intro_url="https://one.example/@ann/1")],
            generated=JOINED,
        )
        assert "<p>Hello #T</p>" in page
        assert "Counsellor" not in page
        assert '<a href="https://one.example/@ann/1">Their introduction post</a>' in page

    def test_hostile_bio_is_sanitised(self) -> None:
        """A bio with a script, an onerror and a javascript: link reaches the page without any."""
        page = render_page("T", [entry(bio_html=EVIL_BIO)], generated=JOINED)
        body = page.split("<main>")[1].split("</main>")[0]
        assert "<script" not in body
        assert "onerror" not in body
        assert "javascript:" not in body

    def test_nothing_from_elsewhere(self) -> None:
        """No src= anywhere (no images, scripts or fonts loaded), and a CSP that allows only the
        page's own style and script by hash."""
        page = render_page("T", [entry()], generated=JOINED)
        assert not re.search(r"\ssrc\s*=", page)
        csp = re.search(r'Content-Security-Policy" content="([^"]+)"', page)
        assert csp is not None
        assert "default-src 'none'" in csp.group(1)
        assert "script-src 'sha256-" in csp.group(1)
        assert "unsafe-inline" not in csp.group(1)

    def test_accessible_structure(self) -> None:
        """One h1, an h2 for the list, an h3 per member, and a labelled filter."""
        page = render_page("T", [entry(), entry("b@x.example")], generated=JOINED)
        assert page.count("<h1>") == 1
        assert page.count("<h3 ") == 2
        assert '<label for="filter">' in page
        assert '<html lang="en">' in page
        assert 'name="viewport"' in page

    def test_empty_directory(self) -> None:
        """Nobody yet: the page says so."""
        assert "Nobody has joined yet." in render_page("T", [], generated=JOINED)
