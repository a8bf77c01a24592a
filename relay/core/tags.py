"""Hashtags as Mastodon sees them, and the text helpers the screen matches on. Pure.

`normalize_tag` mirrors Mastodon's `HashtagNormalizer` (app/lib/hashtag_normalizer.rb):
NFKC ("cjk_width"), lower case, `ASCIIFolding` (a fixed table of Latin letters with diacritics),
then removal of every character outside `Tag::HASHTAG_INVALID_CHARS_RE`'s allowed set:
`[[:alnum:]]`, the Thai marks U+0E47-U+0E4E and the separators `_ · ・ ZWNJ`.

Ruby's `[[:alnum:]]` is Unicode Alphabetic + Decimal_Number. Python has no Alphabetic property, so
`_is_alnum` takes letters, Nd and Nl digits and combining marks except the script-neutral combining
diacritics, viramas and nuktas (which are not Alphabetic): exact for Latin, Greek, Cyrillic, CJK,
Arabic, Hebrew letters and the Indic vowel signs that hashtags in those scripts need.

`tags_in_html` finds the hashtags of rendered post HTML the way Mastodon's `Tag::HASHTAG_RE`
(`(?<=^|[[:space:]])[#＃](NAME)`) finds them in the source text: in hashtag links (`rel="tag"` or
class `hashtag`) and in plain text after a space, never in a URL or inside another link's text.
`parse_html` reads the HTML Mastodon's sanitiser writes with a small tokenizer of its own and any
other HTML with `html.parser`, with the same result (tests/core/test_tags.py holds them to it).
Likewise `normalize_tag`, `fold_text` and the hashtag scan take a shortcut for ASCII text, with the
result of going character by character (tests/core/test_tags.py again).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from itertools import filterfalse

__all__ = ["HtmlSummary", "fold_text", "hashtags_in_text", "normalize_tag", "parse_html", "tags_in_html"]

# Mastodon's ASCIIFolding table: each character of the first string becomes the one below it.
_FOLD_FROM = (
    "ÀÁÂÃÄÅàáâãäåĀāĂăĄąÇçĆćĈĉĊċČčÐðĎďĐđÈÉÊËèéêëĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħÌÍÎÏìíîïĨĩĪīĬĭĮįİıĴĵĶķĸĹĺĻļĽľĿŀŁł"
    "ÑñŃńŅņŇňŉŊŋÒÓÔÕÖØòóôõöøŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšſŢţŤťŦŧÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲųŴŵÝýÿŶŷŸŹźŻżŽž"
)
_FOLD_TO = (
    "AAAAAAaaaaaaAaAaAaCcCcCcCcCcDdDdDdEEEEeeeeEeEeEeEeEeGgGgGgGgHhHhIIIIiiiiIiIiIiIiIiJjKkkLlLlLlLlLl"
    "NnNnNnNnnNnOOOOOOooooooOoOoOoRrRrRrSsSsSsSssTtTtTtUUUUuuuuUuUuUuUuUuUuWwYyyYyYZzZzZz"
)
_ASCII_FOLDING = str.maketrans(_FOLD_FROM, _FOLD_TO)
assert len(_FOLD_FROM) == len(_FOLD_TO)

SEPARATORS = "_\u00b7\u30fb\u200c"  # Tag::HASHTAG_SEPARATORS
_HASH_SIGNS = "#＃"
_HASH_SIGN = re.compile(f"[{_HASH_SIGNS}]")
# Marks that carry no letter of their own (not Unicode Alphabetic): Mastodon drops them.
_NEUTRAL_MARKS = (
    (0x0300, 0x036F),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE00, 0xFE0F),
    (0xFE20, 0xFE2F),
    (0xE0100, 0xE01EF),
)


def _is_mark_alphabetic(char: str) -> bool:
    code = ord(char)
    if any(lo <= code <= hi for lo, hi in _NEUTRAL_MARKS):
        return code == 0x0345  # COMBINING GREEK YPOGEGRAMMENI is Alphabetic
    name = unicodedata.name(char, "")
    return "VIRAMA" not in name and "NUKTA" not in name


def _is_alpha(char: str) -> bool:
    """Ruby's `[[:alpha:]]` (Unicode Alphabetic), approximated as described in the module doc."""
    category = unicodedata.category(char)
    if category[0] == "L" or category == "Nl":
        return True
    return category in ("Mn", "Mc") and _is_mark_alphabetic(char)


def _is_alnum(char: str) -> bool:
    return _is_alpha(char) or unicodedata.category(char) == "Nd"


def _is_word(char: str) -> bool:
    """Ruby's `[[:word:]]`: Letter, Mark, Decimal_Number, Connector_Punctuation."""
    category = unicodedata.category(char)
    return category[0] in "LM" or category in ("Nd", "Pc")


def _keep(char: str) -> bool:
    return char in SEPARATORS or "\u0e47" <= char <= "\u0e4e" or _is_alnum(char)


_NOT_ASCII_TAG_CHAR = re.compile("[^0-9a-z_]")


def normalize_tag(name: str) -> str:
    """The name Mastodon stores for the hashtag `name`, e.g. `therapistsconnect`. A leading `#` (or
    the full-width `＃`) goes with every other character outside the allowed set, so `name` may be
    written as people write it: "#TherapistsConnect" and "TherapistsConnect" are the same tag."""
    if name.isascii():
        # NFKC and the folding table leave ASCII alone; of ASCII, `_keep` keeps letters, digits and _.
        return _NOT_ASCII_TAG_CHAR.sub("", name.lower())
    return _normalize_unicode_tag(name)


@functools.lru_cache(maxsize=4096)
def _normalize_unicode_tag(name: str) -> str:
    """`normalize_tag` of any name, character by character (cached: hashtags recur)."""
    text = unicodedata.normalize("NFKC", name)
    # Character by character, as Ruby's downcase: no context-dependent final sigma.
    text = "".join(char.lower() for char in text)
    text = text.translate(_ASCII_FOLDING)
    return "".join(char for char in text if _keep(char))


def fold_text(text: str) -> str:
    """Text for case- and accent-insensitive matching: NFKD without marks, case-folded, ASCII-folded."""
    if text.isascii():
        # Every step below leaves ASCII as it is, except casefold, which is lower() on ASCII.
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(filterfalse(unicodedata.combining, decomposed))
    return unicodedata.normalize("NFKC", bare.casefold().translate(_ASCII_FOLDING))


# Of ASCII, the word characters are letters, digits and "_", and no other separator is ASCII.
_ASCII_WORD = re.compile("[0-9A-Za-z_]*")
_ASCII_LETTER = re.compile("[A-Za-z]")


def _name_at(text: str, start: int) -> str | None:
    """The hashtag name `Tag::HASHTAG_NAME_PAT` matches at `text[start:]`, or None."""
    word = _ASCII_WORD.match(text, start)
    assert word is not None  # it matches the empty string too
    if word.end() == len(text) or text[word.end()].isascii():
        # An ASCII name (or none), ended by the end of the text or by an ASCII non-word character.
        name = word.group()
        if _ASCII_LETTER.search(name) or "_" in name[1:-1]:
            return name
        return None
    return _unicode_name_at(text, start)


def _unicode_name_at(text: str, start: int) -> str | None:
    """`_name_at` character by character, for names that may hold any word character."""
    end = start
    while end < len(text) and (_is_word(text[end]) or text[end] in SEPARATORS):
        end += 1
    # A name cannot begin with, nor end in, a separator other than "_" (which is a word character).
    while end > start and text[end - 1] in SEPARATORS[1:]:
        end -= 1
    name = text[start:end]
    if not name or name[0] in SEPARATORS[1:]:
        return None
    if any(_is_alpha(char) for char in name):
        return name
    # HASHTAG_FIRST_SEQUENCE: digits joined by a separator ("1_2") are a name too.
    if any(char in SEPARATORS for char in name[1:-1]):
        return name
    return None


def hashtags_in_text(text: str) -> frozenset[str]:
    """Normalised hashtags in plain text: '#' or '＃' at the start or after white space, then a name."""
    if "#" not in text and "＃" not in text:
        return frozenset()
    found = set()
    for sign in _HASH_SIGN.finditer(text):
        index = sign.start()
        if index == 0 or text[index - 1].isspace():
            name = _name_at(text, index + 1)
            if name:
                normalized = normalize_tag(name)
                if normalized:
                    found.add(normalized)
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class HtmlSummary:
    """What screening needs from a post's HTML."""

    text: str  # plain text: tags stripped, entities decoded, paragraphs and <br> as new lines
    tags: frozenset[str]  # normalised hashtags (hashtag links, and '#name' in plain text)
    mentions: int  # mention links
    links: int  # other links (not hashtags, not mentions)


_BLOCKS = frozenset({"p", "div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6"})
_PLACEHOLDER = "\ufffc"  # stands for a link's text in the tag scan: not a space, so "</a>#x" is no tag


class _Summarizer:
    """Collects an `HtmlSummary` from start tags, end tags and text, in document order."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.outside: list[str] = []  # text outside links, for the plain-text hashtag scan
        self.link_text: list[str] = []
        self.link_kind: str | None = None  # "hashtag" | "mention" | "link" while inside <a>
        self.tags: set[str] = set()
        self.mentions = 0
        self.links = 0

    def start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A start tag: only `br`, blocks and `a` (see `start_link`) change the summary."""
        if tag == "br":
            self._newline("\n")
        elif tag in _BLOCKS:
            self._newline("\n\n")
        elif tag == "a":
            values = {key: (value or "") for key, value in attrs}
            self.start_link(values.get("class", ""), values.get("rel", ""))

    def start_link(self, class_value: str, rel_value: str) -> None:
        """An `a` start tag, with the values of its last `class` and `rel` attributes ("" if none)."""
        if self.link_kind is None:
            classes = class_value.split()
            rels = rel_value.split()
            if "hashtag" in classes or "tag" in rels:
                self.link_kind = "hashtag"
            elif "mention" in classes:
                self.link_kind = "mention"
            else:
                self.link_kind = "link"
            self.link_text = []

    def end(self, tag: str) -> None:
        if tag in _BLOCKS:
            self._newline("\n\n")
        elif tag == "a" and self.link_kind is not None:
            label = "".join(self.link_text).strip()
            if self.link_kind == "hashtag":
                name = _name_at(label, 1) if label[:1] in _HASH_SIGNS else None
                normalized = normalize_tag(name) if name else ""
                if normalized:
                    self.tags.add(normalized)
            elif self.link_kind == "mention":
                self.mentions += 1
            else:
                self.links += 1
            self.outside.append(_PLACEHOLDER)
            self.link_kind = None

    def data(self, data: str) -> None:
        self.text.append(data)
        if self.link_kind is None:
            self.outside.append(data)
        else:
            self.link_text.append(data)

    def _newline(self, sep: str) -> None:
        self.text.append(sep)
        self.outside.append(sep)

    def summary(self) -> HtmlSummary:
        lines = [" ".join(line.split()) for line in "".join(self.text).split("\n")]
        text = "\n".join(lines)
        while "\n\n\n" in text:
            text = text.replace("\n\n\n", "\n\n")
        tags = self.tags | hashtags_in_text("".join(self.outside))
        return HtmlSummary(text=text.strip(), tags=frozenset(tags), mentions=self.mentions, links=self.links)


class _StdlibReader(HTMLParser):
    """`html.parser` feeding a `_Summarizer`: reads any HTML, however malformed."""

    def __init__(self, into: _Summarizer) -> None:
        super().__init__(convert_charrefs=True)
        self.into = into

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.into.start(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.into.start(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.into.end(tag)

    def handle_data(self, data: str) -> None:
        self.into.data(data)


# The simple reader: the HTML Mastodon's sanitiser writes, and nothing else. Elements it allows
# (and that html.parser reads as ordinary elements in every Python version: no script, style,
# textarea or title), each tag written plainly: `<name attr="value" ...>`, `<name/>`, `</name>`,
# ASCII white space only, double-quoted values without `<` or `>`. Text is anything without `<`.
# For such input html.parser calls its handlers with exactly what `_read_simple` passes (names
# lower-cased, entities decoded in text and values); any other input goes to html.parser itself.
_SIMPLE_ELEMENTS = frozenset(
    {"a", "b", "br", "code", "del", "em", "i", "rp", "rt", "ruby", "s", "span", "strong", "sub", "sup", "u"}
    | _BLOCKS
)
# Elements whose tags `_Summarizer` ignores: the simple reader does not pass them on.
_INERT_ELEMENTS = _SIMPLE_ELEMENTS - _BLOCKS - {"a", "br"}
_SPACE = "[ \t\n\r\f]"
# A simple tag holds exactly one `<`: the HTML is simple when every `<` in it begins one.
_SIMPLE_TAG = re.compile(
    rf'<(?:([a-zA-Z][a-zA-Z0-9]*)((?:{_SPACE}+[a-zA-Z][-a-zA-Z0-9_:.]*="[^"<>]*")*){_SPACE}*/?'  # start
    rf"|/([a-zA-Z][a-zA-Z0-9]*){_SPACE}*)>"  # end tag
)
_SIMPLE_ATTRIBUTE = re.compile(r'([a-zA-Z][-a-zA-Z0-9_:.]*)="([^"<>]*)"')


def _read_simple(html: str, into: _Summarizer) -> bool:
    """Feed `html` to `into` if it is simple sanitised HTML (see above); False, maybe part-fed, if not.

    What `_Summarizer` ignores is not passed on: the tags of `_INERT_ELEMENTS`, and the attributes
    of any element but `a`, and of `a` any but `class` and `rel`."""
    # [text, start name, attributes, end name, text, start name, ...]: 4 items per tag.
    parts = _SIMPLE_TAG.split(html)
    if html.count("<") * 4 != len(parts) - 1:  # a `<` that starts no simple tag
        return False
    items = iter(parts)
    text = next(items)
    if text:
        into.data(unescape(text))
    for start, attributes, end, text in zip(items, items, items, items, strict=True):
        name = (start if start is not None else end).lower()
        if name not in _INERT_ELEMENTS:
            if name not in _SIMPLE_ELEMENTS:
                return False
            if start is None:
                into.end(name)
            elif name == "a":
                values = {key.lower(): value for key, value in _SIMPLE_ATTRIBUTE.findall(attributes)}
                into.start_link(unescape(values.get("class", "")), unescape(values.get("rel", "")))
            else:
                into.start(name, [])
        if text:
            into.data(unescape(text))
    return True


def parse_html(html: str) -> HtmlSummary:
    """Plain text, hashtags, mention and link counts of a post's (or a bio's) HTML.

    Mastodon's sanitised HTML is read by a small tokenizer (`_read_simple`), anything else by
    `html.parser`, with the same result (tests/core/test_tags.py checks both on every recorded status
    and on generated HTML)."""
    summarizer = _Summarizer()
    if not _read_simple(html, summarizer):
        return _parse_html_stdlib(html)
    return summarizer.summary()


def _parse_html_stdlib(html: str) -> HtmlSummary:
    """`parse_html` by `html.parser` alone."""
    summarizer = _Summarizer()
    reader = _StdlibReader(summarizer)
    reader.feed(html)
    reader.close()
    return summarizer.summary()


def tags_in_html(html: str) -> frozenset[str]:
    """Normalised hashtags of rendered HTML: hashtag links and '#name' after a space in plain text."""
    return parse_html(html).tags
