"""Typed reads from a parsed TOML table, with errors that name the file, the key and the fix.

`Table` wraps one (sub-)table of relay.toml. Each `get_*` call names the key it reads, checks the
type, and remembers the key; `finish()` then rejects every key nobody asked for, with a
"did you mean" suggestion, so that a typo never silently falls back to a default.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from relay.errors import ConfigError

T = TypeVar("T")

_TYPE_NAMES = {
    str: "a string",
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    list: "a list",
    dict: "a table",
}


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return f"a list {value!r}"[:80]
    return repr(value)[:80]


class Table:
    """One TOML table being read: `source` is the file name, `prefix` the dotted key path."""

    def __init__(self, data: Mapping[str, Any], *, source: str, prefix: str = "") -> None:
        self._data = data
        self._source = source
        self._prefix = prefix
        self._read: set[str] = set()

    @property
    def source(self) -> str:
        return self._source

    def key(self, name: str) -> str:
        """The full dotted name of `name` in this table, as an error message shows it."""
        return f"{self._prefix}.{name}" if self._prefix else name

    def __contains__(self, name: str) -> bool:
        return name in self._data

    def error(self, name: str, expected: str, *, found: object = None, fix: str | None = None) -> ConfigError:
        """A ConfigError for key `name`: what was found, what is expected, and how to fix it."""
        shown = _describe(found if found is not None else self._data.get(name))
        message = f"{self._source}: {self.key(name)} = {shown}: expected {expected}"
        return ConfigError(message, fix=fix or f"set {self.key(name)} to {expected} in {self._source}")

    def missing(self, name: str, expected: str, example: str) -> ConfigError:
        """A ConfigError for a required key that is absent."""
        return ConfigError(
            f"{self._source}: {self.key(name)} is missing: expected {expected}",
            fix=f"add `{example}` to {self._source}",
        )

    def _get(
        self, name: str, kind: type, expected: str | None, default: Any, required: bool, example: str
    ) -> Any:
        self._read.add(name)
        if name not in self._data:
            if required:
                raise self.missing(name, expected or _TYPE_NAMES[kind], example or f"{name} = ...")
            return default
        value = self._data[name]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            raise self.error(name, expected or _TYPE_NAMES[kind])
        return value

    def get_str(
        self,
        name: str,
        default: str | None = None,
        *,
        required: bool = False,
        choices: Sequence[str] | None = None,
        example: str = "",
    ) -> Any:
        expected = " or ".join(f'"{c}"' for c in choices) if choices else None
        value = self._get(name, str, expected, default, required, example)
        if value is not None and choices is not None and value not in choices:
            raise self.error(name, expected or "a string")
        return value

    def get_bool(self, name: str, default: bool) -> bool:
        return bool(self._get(name, bool, None, default, False, ""))

    def get_int(self, name: str, default: int | None, *, minimum: int | None = None) -> Any:
        value = self._get(name, int, None, default, False, "")
        if value is not None and minimum is not None and value < minimum:
            raise self.error(name, f"a whole number of at least {minimum}")
        return value

    def get_float(self, name: str, default: float | None, *, minimum: float | None = None) -> Any:
        value = self._get(name, float, None, default, False, "")
        if value is not None and minimum is not None and value < minimum:
            raise self.error(name, f"a number of at least {minimum}")
        return value

    def get_str_list(
        self,
        name: str,
        default: Sequence[str] = (),
        *,
        required: bool = False,
        example: str = "",
        item: Callable[[str], T] | None = None,
    ) -> tuple[Any, ...]:
        value = self._get(name, list, "a list of strings", list(default), required, example)
        if not all(isinstance(v, str) for v in value):
            raise self.error(name, "a list of strings")
        if item is None:
            return tuple(value)
        return tuple(item(v) for v in value)

    def table(self, name: str) -> Table:
        """The sub-table `name` (empty when absent)."""
        value = self._get(name, dict, None, {}, False, "")
        return Table(value, source=self._source, prefix=self.key(name))

    def tables(self, name: str) -> list[Table]:
        """An array of tables (`[[name]]`), empty when absent."""
        self._read.add(name)
        value = self._data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(name, f"an array of tables ([[{self.key(name)}]])")
        return [Table(v, source=self._source, prefix=f"{self.key(name)}[{i}]") for i, v in enumerate(value)]

    def finish(self) -> None:
        """Reject every key that was never read: a typo must not fall back to a default."""
        for name in self._data:
            if name in self._read:
                continue
            close = difflib.get_close_matches(name, sorted(self._read), n=1)
            hint = f"did you mean {self.key(close[0])}?" if close else "remove it"
            raise ConfigError(f"{self._source}: unknown key {self.key(name)}", fix=hint)
