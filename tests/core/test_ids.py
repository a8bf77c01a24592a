"""One order of status ids and one order of post versions, alone and against the copies they replace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from relay.core.ids import NEVER_EDITED, id_key, is_numeric_id, numeric_id_key, parse_time, version_key

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # ULIDs (GoToSocial)
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # flake ids (Akkoma)


# -- the copies as first written: what the one rule must still give ---------------------------------


def rest_id_key_as_first_written(status_id: str) -> tuple[int, str]:
    return (len(status_id), status_id) if status_id.isdigit() else (0, status_id)


def store_id_key_as_first_written(status_id: str) -> tuple[int, str]:
    digits = status_id.strip()
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"status id {status_id!r} is not a numeric string")
    digits = digits.lstrip("0") or "0"
    return (len(digits), digits)


def dedupe_is_newer_as_first_written(candidate: str | None, stored: str | None) -> bool:
    def key(edited_at: str) -> tuple[int, datetime, str]:
        try:
            instant = datetime.fromisoformat(edited_at)
        except ValueError:
            return (0, datetime.min.replace(tzinfo=UTC), edited_at)
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        return (1, instant.astimezone(UTC), "")

    if candidate is None:
        return False
    if stored is None:
        return True
    return key(candidate) > key(stored)


def seen_version_of_as_first_written(edited_at: object) -> float | None:
    if edited_at is None:
        return None
    if isinstance(edited_at, datetime):
        return edited_at.timestamp()
    if isinstance(edited_at, str):
        try:
            return datetime.fromisoformat(edited_at.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return float("nan")
    return float("nan")


def recheck_is_newer_as_first_written(answer: object, stored: str | None) -> bool:
    version = seen_version_of_as_first_written(answer)
    if version is None or version != version:
        return False
    known = seen_version_of_as_first_written(stored)
    return known is None or known != known or version > known


# -- strategies ------------------------------------------------------------------------------------

mastodon_ids = st.integers(min_value=0, max_value=2**70).map(str)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@st.composite
def written_times(draw: st.DrawFn) -> str:
    """An instant as a server may write it: any offset, `Z` or `+00:00`, 0/3/6 fraction digits."""
    instant = draw(instants).astimezone(draw(offsets))
    fraction = draw(st.sampled_from(["seconds", "milliseconds", "microseconds"]))
    text = instant.isoformat(timespec=fraction)
    if text.endswith("+00:00") and draw(st.booleans()):
        text = text.removesuffix("+00:00") + "Z"
    return text


garbage = st.sampled_from(["", "garbage", "2026-13-01T00:00:00Z", "yesterday", "2026-01-01T25:00"])
versions = st.one_of(st.none(), written_times(), garbage, st.text(max_size=12))


class TestIdKey:
    @given(mastodon_ids, mastodon_ids)
    def test_mastodon_ids_order_by_value(self, a: str, b: str) -> None:
        """Numeric ids of any length compare as the numbers they are."""
        assert (id_key(a) < id_key(b)) == (int(a) < int(b))
        assert (id_key(a) == id_key(b)) == (int(a) == int(b))

    @given(mastodon_ids, st.integers(min_value=1, max_value=5))
    def test_leading_zeros_do_not_reorder(self, a: str, zeros: int) -> None:
        """An id written with leading zeros is the same id."""
        assert id_key("0" * zeros + a) == id_key(a)
        assert numeric_id_key("0" * zeros + a) == numeric_id_key(a)

    @given(
        st.sampled_from([CROCKFORD, BASE62]).flatmap(
            lambda abc: st.tuples(*[st.text(abc, min_size=18, max_size=18)] * 2)
        )
    )
    def test_equal_length_ids_order_as_text(self, pair: tuple[str, str]) -> None:
        """ULIDs and flake ids (equal length, "0" the least character) keep their text order."""
        a, b = pair
        assert (id_key(a) < id_key(b)) == (a < b)

    def test_old_numeric_ids_come_before_flake_ids(self) -> None:
        """Pleroma's ids from before flake ids (short numbers) sort before the flake ids."""
        assert id_key("9") < id_key("0A5cdeZ0vwuL6G2ZjR") < id_key("A5cdeZ0vwuL6G2ZjRA")

    @given(mastodon_ids, mastodon_ids)
    def test_same_order_as_both_copies_for_mastodon_ids(self, a: str, b: str) -> None:
        """For what Mastodon sends (no leading zeros) both replaced orders agree with the one rule."""
        assert (id_key(a) < id_key(b)) == (rest_id_key_as_first_written(a) < rest_id_key_as_first_written(b))
        assert (numeric_id_key(a) < numeric_id_key(b)) == (
            store_id_key_as_first_written(a) < store_id_key_as_first_written(b)
        )

    @pytest.mark.parametrize("bad", ["12a", "", " ", "１２", "-5", "1.0"])
    def test_numeric_key_refuses_other_ids(self, bad: str) -> None:
        """A cursor id that is not an ASCII numeric string is a ValueError."""
        with pytest.raises(ValueError, match="not a numeric string"):
            numeric_id_key(bad)

    @given(st.text(max_size=6) | mastodon_ids)
    def test_a_numeric_id_is_what_the_numeric_key_takes(self, text: str) -> None:
        """`is_numeric_id` (the pipeline's test before it moves a cursor) accepts only ids the store's
        cursor key takes: "١٢٣" is `isdigit()` but not a Mastodon id."""
        if is_numeric_id(text):
            numeric_id_key(text)
        assert is_numeric_id("117024236408130890")
        assert not is_numeric_id("١٢٣")
        assert not is_numeric_id("²")

    def test_numeric_key_ignores_surrounding_space(self) -> None:
        """White space around a numeric id does not change it."""
        assert numeric_id_key(" 1000\n") == id_key("1000")


class TestParseTime:
    def test_z_and_utc_offset_are_the_same_time(self) -> None:
        """`Z`, `+00:00` and no zone at all all name UTC."""
        want = datetime(2026, 1, 1, tzinfo=UTC)
        assert parse_time("2026-01-01T00:00:00Z") == want
        assert parse_time("2026-01-01T00:00:00.000+00:00") == want
        assert parse_time("2026-01-01T00:00:00") == want
        assert parse_time("2026-01-01T00:00:00").tzinfo is UTC  # type: ignore[union-attr]

    def test_datetimes_pass_aware(self) -> None:
        """A datetime is kept, a naive one taken as UTC."""
        aware = datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
        assert parse_time(aware) is aware
        assert parse_time(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)

    @pytest.mark.parametrize("value", [None, 5, 1.5, [], "garbage", "", "2026-02-30T00:00:00Z"])
    def test_anything_else_is_none(self, value: object) -> None:
        """What is not a time is None, never an exception."""
        assert parse_time(value) is None


class TestVersionKey:
    @given(written_times(), written_times())
    def test_versions_order_as_instants(self, a: str, b: str) -> None:
        """However two edit times are written, their keys order and match as the instants do."""
        ta, tb = datetime.fromisoformat(a), datetime.fromisoformat(b)
        assert (version_key(a) < version_key(b)) == (ta < tb)
        assert (version_key(a) == version_key(b)) == (ta == tb)

    @given(written_times())
    def test_text_and_datetime_are_the_same_version(self, text: str) -> None:
        """The stored datetime and the text it came from are one version."""
        assert version_key(text) == version_key(parse_time(text))

    @given(garbage, written_times())
    def test_never_edited_then_malformed_then_times(self, bad: str, text: str) -> None:
        """Never edited < not a time < any edit time, so a malformed version never hides a real edit."""
        assert version_key(None) == NEVER_EDITED < version_key(bad) < version_key(text)

    @settings(max_examples=500)
    @given(versions, versions)
    def test_same_as_dedupe_as_first_written(self, a: str | None, b: str | None) -> None:
        """dedupe's is-newer is unchanged: timestamps with and without Z, fractions, offsets, garbage."""
        new = a is not None and (b is None or version_key(a) > version_key(b))
        assert new == dedupe_is_newer_as_first_written(a, b)

    @settings(max_examples=500)
    @given(versions, versions)
    def test_same_as_recheck_as_first_written(self, answer: str | None, stored: str | None) -> None:
        """The recheck's is-newer (only a real edit time in the answer counts) is unchanged."""
        new = parse_time(answer) is not None and version_key(answer) > version_key(stored)
        assert new == recheck_is_newer_as_first_written(answer, stored)

    @settings(max_examples=500)
    @given(st.one_of(st.none(), instants), versions)
    def test_same_as_seen_cache_as_first_written(self, stored: datetime | None, arriving: str | None) -> None:
        """The seen cache's "same version" is unchanged (for times naming a zone or none, in UTC)."""
        parsed = parse_time(arriving)
        assume(parsed is None or datetime.fromisoformat(str(arriving)).tzinfo is not None)  # was local
        old = seen_version_of_as_first_written(stored) == seen_version_of_as_first_written(arriving)
        assert (version_key(stored) == version_key(arriving)) == old
