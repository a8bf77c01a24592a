"""A crash right after one of the store's writes, for tests of what a transaction keeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def crash_after(
    part: object,
    method: str,
    when: Callable[..., bool] = lambda *a, **k: True,
    error: Callable[[], BaseException] = lambda: RuntimeError("killed here"),
) -> Iterator[None]:
    """Within the block, `part.<method>` (a part of the store: `store.posts`, `store.queue`, ...)
    does its write, then raises `error()` (`RuntimeError("killed here")`) for the calls
    `when(*args, **kwargs)` picks: the process dying, or a bug, half-way through a transaction."""
    original = getattr(part, method)

    def write_then_crash(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if when(*args, **kwargs):
            raise error()
        return result

    setattr(part, method, write_then_crash)
    try:
        yield
    finally:
        setattr(part, method, original)
