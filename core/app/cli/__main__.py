"""`python -m core.app.cli`: the `rollcall` command."""

import sys

from core.app.cli import main

sys.exit(main())
