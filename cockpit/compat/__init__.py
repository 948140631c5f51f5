"""Pipeline compatibility: a catalog of rules with stable codes, scanners for Python source,
notebooks, requirements, jobs and bundles, the per-pipeline checklist, and autofix.

Nothing here imports textual; heavy libraries (libcst, ruamel.yaml) are imported inside the
functions that need them.
"""
