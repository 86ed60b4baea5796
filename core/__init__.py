"""Rollcall's engine: plain Python, no Qt. The GUI and the CLI both drive it."""

import os as _os

# OpenMP threads that spin while idle steal the core a GUI or video decoder needs and can slow
# batch-1 inference by tens of times on a 2-core kiosk. Must be set before torch is imported.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
