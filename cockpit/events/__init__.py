"""What the event log says, told for people (:mod:`cockpit.events.sentences`)."""
