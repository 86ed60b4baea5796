"""`python -m gui` opens the Rollcall window."""

import sys

from .app import main

sys.exit(main())
