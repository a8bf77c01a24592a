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
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser

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


def normalize_tag(name: str) -> str:
    """The name Mastodon stores for the hashtag `name` (given without '#'), e.g. `therapistsconnect`."""
    text = unicodedata.normalize("NFKC", name)
    # Character by character, as Ruby's downcase: no context-dependent final sigma.
    text = "".join(char.lower() for char in text)
    text = text.translate(_ASCII_FOLDING)
    return "".join(char for char in text if _keep(char))


def fold_text(text: str) -> str:
    """Text for case- and accent-insensitive matching: NFKD without marks, case-folded, ASCII-folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFKC", bare.casefold().translate(_ASCII_FOLDING))


def _name_at(text: str, start: int) -> str | None:
    """The hashtag name `Tag::HASHTAG_NAME_PAT` matches at `text[start:]`, or None."""
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
    found = set()
    for index, char in enumerate(text):
        if char in _HASH_SIGNS and (index == 0 or text[index - 1].isspace()):
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


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.outside: list[str] = []  # text outside links, for the plain-text hashtag scan
        self.link_text: list[str] = []
        self.link_kind: str | None = None  # "hashtag" | "mention" | "link" while inside <a>
        self.tags: set[str] = set()
        self.mentions = 0
        self.links = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._newline("\n")
        elif tag in _BLOCKS:
            self._newline("\n\n")
        elif tag == "a" and self.link_kind is None:
            values = {key: (value or "") for key, value in attrs}
            classes = values.get("class", "").split()
            rels = values.get("rel", "").split()
            if "hashtag" in classes or "tag" in rels:
                self.link_kind = "hashtag"
            elif "mention" in classes:
                self.link_kind = "mention"
            else:
                self.link_kind = "link"
            self.link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self._newline("\n\n")
        elif tag == "a" and self.link_kind is not None:
            label = "".join(self.link_text).strip()
            if self.link_kind == "hashtag":
                if label[:1] in _HASH_SIGNS:
                    name = _name_at(label, 1)
                    if name and normalize_tag(name):
                        self.tags.add(normalize_tag(name))
            elif self.link_kind == "mention":
                self.mentions += 1
            else:
                self.links += 1
            self.outside.append(_PLACEHOLDER)
            self.link_kind = None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.link_kind is None:
            self.outside.append(data)
        else:
            self.link_text.append(data)

    def _newline(self, sep: str) -> None:
        self.text.append(sep)
        self.outside.append(sep)


def parse_html(html: str) -> HtmlSummary:
    """Plain text, hashtags, mention and link counts of a post's (or a bio's) HTML."""
    parser = _Parser()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.text).split("\n")]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    tags = set(parser.tags) | hashtags_in_text("".join(parser.outside))
    return HtmlSummary(text=text.strip(), tags=frozenset(tags), mentions=parser.mentions, links=parser.links)


def tags_in_html(html: str) -> frozenset[str]:
    """Normalised hashtags of rendered HTML: hashtag links and '#name' after a space in plain text."""
    return parse_html(html).tags
