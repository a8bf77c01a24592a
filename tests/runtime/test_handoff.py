"""The feed cursors the main thread hands to the fetcher threads (`relay.runtime.handoff`)."""

from __future__ import annotations

import threading

from relay.runtime.handoff import Cursors


class TestCursors:
    def test_a_cursor_is_read_by_its_key(self) -> None:
        """Each (source, hashtag) has its own cursor; an unknown one is None (the very first start)."""
        cursors = Cursors()
        cursors.move("a.example", "hoot", to="117")
        assert cursors.get("a.example", "hoot") == "117"
        assert cursors.get("a.example", "other") is None
        assert cursors.get("b.example", "hoot") is None

    def test_a_move_replaces_the_cursor(self) -> None:
        """The newest committed move is what a fetcher reads next."""
        cursors = Cursors()
        cursors.move("a.example", "hoot", to="5")
        cursors.move("a.example", "hoot", to="9")
        assert cursors.get("a.example", "hoot") == "9"

    def test_a_reader_thread_sees_the_main_threads_moves(self) -> None:
        """A fetcher thread reading while the main thread moves the cursor sees each value whole,
        and the last one once the moves are done."""
        cursors = Cursors()
        done = threading.Event()
        read: list[str | None] = []

        def fetcher() -> None:
            while not done.is_set():
                read.append(cursors.get("a.example", "hoot"))
            read.append(cursors.get("a.example", "hoot"))

        thread = threading.Thread(target=fetcher)
        thread.start()
        for n in range(1, 2001):
            cursors.move("a.example", "hoot", to=str(n))
        done.set()
        thread.join()
        assert read[-1] == "2000"
        assert all(value is None or 1 <= int(value) <= 2000 for value in read)
