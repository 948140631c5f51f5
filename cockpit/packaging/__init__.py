"""The packaging path: where every job's libraries come from and whether that source still works
on the target runtime (``cockpit packaging audit``)."""
