"""argparse value types shared by commands, so every command words the same mistake the same way."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def add_text_or_json(parser: argparse.ArgumentParser, what: str = "the result") -> None:
    """``--format text|json`` for a command whose answer is a few lines (the JSON envelope of
    cockpit.cli.envelope under json; human lines then go to stderr)."""
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help=f"json: {what} as one JSON object on stdout",
    )
