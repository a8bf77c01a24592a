"""``python -m relay.sandbox``: the ``relay sandbox`` subcommand until ``relay.cli.main`` wires it."""

import sys

from relay.sandbox.cli import main

sys.exit(main())
