"""Migration Cockpit engine.

Everything under ``cockpit`` is headless: it never imports Textual (``tests/test_import_hygiene.py``
proves it), so the CLI, the recorder and scripts stay fast and usable without a terminal UI.
"""

__version__ = "0.1.0"
