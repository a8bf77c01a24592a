"""A crash right after one of the store's writes, for tests of what a transaction keeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from relay.store.store import Store


@contextmanager
def crash_after(
    store: Store, method: str, when: Callable[..., bool] = lambda *a, **k: True
) -> Iterator[None]:
    """Within the block, `store.<method>` does its write, then raises `RuntimeError("killed here")`
    for the calls `when(*args, **kwargs)` picks: the process dying half-way through a transaction."""
    original = getattr(store, method)

    def write_then_crash(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if when(*args, **kwargs):
            raise RuntimeError("killed here")
        return result

    setattr(store, method, write_then_crash)
    try:
        yield
    finally:
        setattr(store, method, original)
