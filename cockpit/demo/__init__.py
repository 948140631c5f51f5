"""`cockpit demo`: a live, local Kyros migration on real servers (see orchestrator.py)."""
