"""The PySide6 desktop app: widgets wired to core objects."""
