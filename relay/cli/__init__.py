"""The `relay` command: one module per subcommand."""
