"""CLI commands that start the UI (``cockpit open``, ``cockpit demo``).

They live with the UI so the engine never imports it: ``cockpit.cli`` finds this package by name
at start-up, if it is installed. Same rule as ``cockpit/commands``: top-level imports stay light;
Textual is imported inside the handlers.
"""
