"""The Textual UI. Reads the state store, sends commands to the engine (``cockpit``)."""
