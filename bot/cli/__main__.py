"""`python -m bot.cli`: the same as the `factbot` command."""

import sys

from bot.cli.commands import main

sys.exit(main())
