"""The SQLite state file: posts, cursors, the review queue, the boost journal, people, audit, settings."""
