"""relay.toml into frozen values: the file, the `[rules]` table, and the access tokens."""
