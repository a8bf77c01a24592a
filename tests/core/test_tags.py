"""Hashtag normalisation as Mastodon's HashtagNormalizer does it, and hashtags found in HTML."""

from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statusgen import generate, real_statuses

from relay.core.tags import (
    _ASCII_FOLDING,
    _name_at,
    _normalize_unicode_tag,
    _parse_html_stdlib,
    _read_simple,
    _Summarizer,
    _unicode_name_at,
    fold_text,
    hashtags_in_text,
    normalize_tag,
    parse_html,
    tags_in_html,
)

ascii_names = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=30)
FOLDABLE = {
    "a": "àáâãäåāăą",
    "e": "èéêëēĕėęě",
    "o": "òóôõöøōŏő",
    "u": "ùúûüũūŭůűų",
    "c": "çćĉċč",
    "n": "ñńņňŋ",
}


def full_width(text: str) -> str:
    """ASCII letters and digits turned into their full-width forms."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


class TestNormalizeTag:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("TherapistsConnect", "therapistsconnect"),
            ("＃ＴｈｅｒａｐｉｓｔｓＣｏｎｎｅｃｔ", "therapistsconnect"),
            ("Café", "cafe"),
            ("ŁódźPsychologia", "lodzpsychologia"),
            ("日本語", "日本語"),
            ("ΣΑΣ", "σασ"),
            ("under_score", "under_score"),
            ("mental-health", "mentalhealth"),
            ("Straße", "straße"),
            ("İstanbul", "istanbul"),
            ("ﾃｽﾄ", "テスト"),
        ],
    )
    def test_examples(self, raw: str, expected: str) -> None:
        """Known names normalise the way Mastodon stores them (NFKC, lower case, ASCII fold, strip)."""
        assert normalize_tag(raw) == expected

    def test_thai_tone_marks_are_kept(self) -> None:
        """The Thai marks U+0E47-U+0E4E that Mastodon allows explicitly survive normalisation."""
        assert normalize_tag("ไม้เอก") == "ไม้เอก"

    @given(st.text(max_size=40))
    def test_idempotent(self, raw: str) -> None:
        """Normalising a normalised name changes nothing."""
        once = normalize_tag(raw)
        assert normalize_tag(once) == once

    @given(ascii_names)
    def test_case_variants_match(self, name: str) -> None:
        """Upper, lower and swapped case of a name normalise to the same tag."""
        assert normalize_tag(name.upper()) == normalize_tag(name.lower()) == normalize_tag(name.swapcase())

    @given(ascii_names)
    def test_full_width_variants_match(self, name: str) -> None:
        """Full-width forms of a name normalise to the same tag as the ASCII name."""
        assert normalize_tag(full_width(name)) == normalize_tag(name)

    @given(ascii_names, st.data())
    def test_accents_fold(self, name: str, data: st.DataObject) -> None:
        """Replacing letters by accented forms from Mastodon's folding table gives the same tag."""
        accented = "".join(
            data.draw(st.sampled_from(FOLDABLE[c.lower()])) if c.lower() in FOLDABLE else c for c in name
        )
        assert normalize_tag(accented) == normalize_tag(name)

    @given(st.text(max_size=40))
    def test_output_has_no_hash_space_or_punctuation(self, raw: str) -> None:
        """A normalised name never contains '#', white space or ASCII punctuation other than '_'."""
        out = normalize_tag(raw)
        assert not any(c.isspace() or (c in string.punctuation and c != "_") for c in out)


class TestHashtagsInText:
    def test_after_space_or_start(self) -> None:
        """A '#' counts at the start of the text or after white space, in either '#' form."""
        assert hashtags_in_text("#One two ＃Three\n#Four") == {"one", "three", "four"}

    def test_not_inside_words_or_urls(self) -> None:
        """'#' inside a word, a URL fragment or right after another tag is no hashtag."""
        assert hashtags_in_text("C#sharp https://x.example/page#frag #a#b") == {"a"}

    def test_digits_only_is_no_tag(self) -> None:
        """A number such as '#1' is not a hashtag, but digits joined by '_' are, as in Mastodon."""
        assert hashtags_in_text("#1 #2024 #1_2") == {"1_2"}

    def test_trailing_separator_is_dropped(self) -> None:
        """A middle dot ending a tag is not part of it."""
        assert hashtags_in_text("#tag· more") == {"tag"}


class TestHtml:
    def test_real_hashtag_link(self) -> None:
        """Mastodon's rendered hashtag link gives its tag."""
        html = (
            '<p><a href="http://localhost:3000/tags/hoot" class="mention hashtag" rel="tag">'
            "#<span>hoot</span></a> (hashtag toot)</p>"
        )
        assert tags_in_html(html) == {"hoot"}

    def test_url_and_link_text_do_not_count(self) -> None:
        """A hashtag only in a link's URL or inside an ordinary link's text is not on the post."""
        html = (
            '<p>see <a href="https://x.example/tags/TherapistsConnect#TherapistsConnect">'
            "#TherapistsConnect page</a></p>"
        )
        assert tags_in_html(html) == frozenset()

    def test_tag_inside_another_tags_text(self) -> None:
        """In a hashtag link reading '#foo#bar', only foo is a tag."""
        assert tags_in_html('<a class="hashtag" href="/tags/foo">#foo#bar</a>') == {"foo"}

    def test_plain_text_tags_after_links_need_a_space(self) -> None:
        """'#x' straight after a link's text is glued to it; after a space it counts."""
        html = '<p><a href="https://e.example">e.example</a>#glued <a href="/">x</a> #free</p>'
        assert tags_in_html(html) == {"free"}

    def test_text_counts_and_entities(self) -> None:
        """Plain text keeps paragraphs and line breaks, decodes entities, and counts mentions and links."""
        html = (
            '<p><span class="h-card"><a href="https://a.example/@bo" class="u-url mention">'
            "@<span>bo</span></a>"
            '</span> hi &amp; bye</p><p>one<br>two <a href="https://l.example/x">'
            '<span class="invisible">https://</span>l.example/x</a></p>'
        )
        summary = parse_html(html)
        assert summary.text == "@bo hi & bye\n\none\ntwo https://l.example/x"
        assert (summary.mentions, summary.links) == (1, 1)


def fold_text_char_by_char(text: str) -> str:
    """`fold_text` as first written, one character at a time: what its fast paths must give."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFKC", bare.casefold().translate(_ASCII_FOLDING))


def recorded_texts() -> list[str]:
    """Plain text, content warnings and hashtag names of the recorded and generated statuses."""
    texts = []
    for item in real_statuses() + generate(300):
        texts += [item.get("spoiler_text") or "", parse_html(item.get("content") or "").text]
        texts += [tag["name"] for tag in item.get("tags") or ()]
    return texts


class TestFoldText:
    def test_case_accents_width(self) -> None:
        """Folding removes case, accents, width and Latin letters like ł and ß."""
        assert fold_text("Ｃａｆé ŁÓDŹ Straße") == "cafe lodz strasse"

    def test_recorded_text_folds_as_char_by_char(self) -> None:
        """The ASCII fast path and the Unicode path fold every recorded text as first written."""
        texts = recorded_texts()
        assert any(t.isascii() for t in texts)
        assert any(not t.isascii() for t in texts)
        for text in texts:
            assert fold_text(text) == fold_text_char_by_char(text), text

    @settings(max_examples=500)
    @given(st.one_of(st.text(max_size=40), st.text(alphabet=string.printable, max_size=40)))
    def test_any_text_folds_as_char_by_char(self, text: str) -> None:
        """Any text, ASCII or not, folds as first written."""
        assert fold_text(text) == fold_text_char_by_char(text)


NAME_CHARS = string.ascii_letters[:6] + "XZ019_ #.-@\u00b7\u30fb\u200cé日ß\u0301\u0e47\uff03\xa0"


class TestAsciiFastPaths:
    """Hashtag names and normalisation take a shortcut on ASCII, with the character-by-character result."""

    @settings(max_examples=500)
    @given(st.one_of(st.text(max_size=30), st.text(alphabet=string.printable, max_size=30)))
    def test_normalize_tag_as_char_by_char(self, name: str) -> None:
        """`normalize_tag` gives what the Unicode path gives, for ASCII names and any other."""
        assert normalize_tag(name) == _normalize_unicode_tag.__wrapped__(name)

    @given(st.text(alphabet=NAME_CHARS, max_size=20), st.sampled_from(["#", "\uff03", "##", ""]))
    def test_a_leading_hash_sign_is_no_part_of_the_name(self, name: str, sign: str) -> None:
        """ "#Tag", "＃Tag" and "Tag" are one tag: relay.toml, `relay replay --hashtag` and RSS categories
        give `normalize_tag` the tag as written (they each stripped a "#" of their own before)."""
        assert normalize_tag(sign + name) == normalize_tag(name) == normalize_tag(name.lstrip("#\uff03"))

    def test_recorded_tags_normalise_as_char_by_char(self) -> None:
        """Every recorded hashtag name (and text) normalises as the Unicode path does it."""
        for name in recorded_texts():
            assert normalize_tag(name) == _normalize_unicode_tag.__wrapped__(name), name

    def test_recorded_names_as_char_by_char(self) -> None:
        """After every '#' of the recorded texts, the ASCII scan finds the character-by-character name."""
        for text in recorded_texts():
            for start in (i + 1 for i, char in enumerate(text) if char in "#＃"):
                assert _name_at(text, start) == _unicode_name_at(text, start), (text, start)

    @settings(max_examples=500)
    @given(st.text(alphabet=NAME_CHARS, max_size=20))
    def test_name_at_as_char_by_char(self, text: str) -> None:
        """At every position, the ASCII scan finds the name the character-by-character scan finds."""
        for start in range(len(text) + 1):
            assert _name_at(text, start) == _unicode_name_at(text, start), (text, start)


# -- HTML as Mastodon's sanitiser writes it, and HTML as anybody may write it -------------------------

TEXT_CHARS = "ab Zé_1 #＃@·\n\t&;/='\"ß\xa0日>"  # no '<': any_tag brings stray ones
ENTITIES = (
    "&amp;",
    "&lt;",
    "&gt;",
    "&quot;",
    "&#39;",
    "&#x27;",
    "&nbsp;",
    "&#35;",
    "&#x23;",
    "&amp",
    "&",
    "&bogus;",
)
CLASS_WORDS = (
    "hashtag",
    "mention",
    "tag",
    "u-url",
    "h-card",
    "invisible",
    "&amp;",
    "&#104;ashtag",
    "men&#116;ion",
    "t&#97;g",
    "",
)
SIMPLE_TAGS = ("p", "br", "span", "a", "del", "pre", "code", "em", "strong", "b", "i", "u", "ul", "ol", "li")
SIMPLE_TAGS += ("blockquote", "P", "Br", "SPAN", "A")

plain_text = st.lists(
    st.one_of(st.text(alphabet=TEXT_CHARS, min_size=1, max_size=8), st.sampled_from(ENTITIES)),
    max_size=4,
).map("".join)
attribute_value = st.lists(
    st.sampled_from(CLASS_WORDS + ENTITIES + (" ", "x", "https://e.example/tags/a")), max_size=3
)


@st.composite
def simple_tag(draw: st.DrawFn) -> str:
    """A start or end tag written as Mastodon writes it."""
    name = draw(st.sampled_from(SIMPLE_TAGS))
    if draw(st.booleans()):
        return f"</{name}{draw(st.sampled_from(('', ' ', chr(10))))}>"
    attrs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(("class", "rel", "href", "CLASS", "Rel", "translate", "data-x", "target")),
                attribute_value.map(" ".join),
            ),
            max_size=3,
        )
    )
    written = "".join(f'{draw(st.sampled_from((" ", "  ", chr(10), chr(9))))}{k}="{v}"' for k, v in attrs)
    return f"<{name}{written}{draw(st.sampled_from(('', ' ', '/', ' /')))}>"


@st.composite
def any_tag(draw: st.DrawFn) -> str:
    """Markup html.parser reads in its own ways: other quoting, odd white space, raw text elements,
    comments, declarations, stray `<`, unclosed tags."""
    name = draw(st.sampled_from((*SIMPLE_TAGS, "script", "style", "textarea", "title", "img", "x-y", "a1")))
    quote = draw(st.sampled_from(('"', "'", "")))
    space = draw(st.sampled_from((" ", "\xa0", "\x0b", "", "/", " / ")))
    value = " ".join(draw(attribute_value))
    return draw(
        st.sampled_from(
            (
                f"<{name}{space}class={quote}{value}{quote}>",
                f"<{name}{space}rel={quote}{value}{quote}{space}>",
                f"<{name} href>",
                f"</{name}{space}>",
                f"</ {name}>",
                f'<{name} class="a>b">',
                "<!-- #c -->",
                "<!doctype html>",
                "<?pi>",
                "<![CDATA[#x]]>",
                "<",
                "</",
                "< p>",
                f"<{name}",
                "<br/",
            )
        )
    )


sanitised_html = st.lists(st.one_of(plain_text, simple_tag()), max_size=12).map("".join)
any_html = st.lists(st.one_of(plain_text, simple_tag(), any_tag()), max_size=12).map("".join)


class TestSimpleReader:
    """`parse_html` reads sanitised HTML with its own small tokenizer: it must agree with html.parser."""

    def test_recorded_html_is_read_simply_and_alike(self) -> None:
        """Every content, bio and field value recorded from Mastodon 4.6 (and generated from them)
        takes the simple reader, with html.parser's result."""
        htmls = []
        for status in real_statuses() + generate(300):
            for item in (status, status.get("reblog") or status):
                account = item["account"]
                htmls += [item.get("content") or "", account.get("note") or ""]
                htmls += [field.get("value") or "" for field in account.get("fields") or ()]
        assert len(set(htmls)) > 100
        for html in htmls:
            assert _read_simple(html, _Summarizer()), html
            assert parse_html(html) == _parse_html_stdlib(html), html

    @pytest.mark.parametrize(
        "html",
        [
            '<p><a href="/tags/x" class="&#104;ashtag">#x</a> <a class="men&#116;ion">@<span>b</span></a>',
            '<a rel="t&#97;g" href="/tags/y">#Y</a><br/><A CLASS="mention" HREF="/@c">@c</A>',
            "<p>one<br />two &amp; #three</p><blockquote><p>#four</p></blockquote>",
        ],
    )
    def test_sanitised_examples(self, html: str) -> None:
        """Entities in attribute values, upper-case names and self-closing tags read as html.parser does."""
        assert _read_simple(html, _Summarizer())
        assert parse_html(html) == _parse_html_stdlib(html)

    @settings(max_examples=500)
    @given(sanitised_html)
    def test_sanitised_html_is_read_simply_and_alike(self, html: str) -> None:
        """HTML written the way Mastodon's sanitiser writes it takes the simple reader, same result."""
        assert _read_simple(html, _Summarizer())
        assert parse_html(html) == _parse_html_stdlib(html)

    @settings(max_examples=1000)
    @given(any_html)
    def test_any_html_reads_alike(self, html: str) -> None:
        """Any other markup (odd quoting, comments, script, stray '<') gives html.parser's result."""
        assert parse_html(html) == _parse_html_stdlib(html)

    @given(st.text(max_size=60))
    def test_any_text_reads_alike(self, text: str) -> None:
        """Arbitrary text gives html.parser's result."""
        assert parse_html(text) == _parse_html_stdlib(text)

    @pytest.mark.parametrize(
        "html",
        [
            "<script>#x</script>",
            "<p>a</p><!-- #b -->",
            '<a class=hashtag href="/tags/x">#x</a>',
            "<p>a < b</p>",
            '<a\xa0class="hashtag">#x</a>',
            "<textarea><p>#x</textarea>",
        ],
    )
    def test_other_markup_goes_to_html_parser(self, html: str) -> None:
        """Markup outside the sanitised subset is left to html.parser."""
        assert not _read_simple(html, _Summarizer())
        assert parse_html(html) == _parse_html_stdlib(html)
