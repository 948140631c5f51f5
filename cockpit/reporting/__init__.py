"""The walkthrough report: its sections, read from the state as of a moment, in one document
(:mod:`cockpit.document`)."""
