"""The Databricks workspace: an adapter over databricks-sdk, a local simulator of the REST API it
uses, the job inventory, run history, the live runtime probe, and the workspace poll source.

Nothing here imports ``databricks.sdk`` at module level: only the functions that talk to a
workspace do, so the rest of the cockpit starts fast.
"""
