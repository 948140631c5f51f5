"""Cutover: go/no-go gates computed from the state file, and the playbook."""
