"""One module per top-level ``cockpit`` sub-command; each exposes ``register(subparsers)``.

Keep imports at the top of these modules light (standard library, ``cockpit.errors``): every
command module is imported to build ``--help``. Heavy work is imported inside the handler.
"""
