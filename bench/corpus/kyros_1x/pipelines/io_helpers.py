"""File helpers shared by the ingestion jobs."""
import json
import os
import re


def read_lines(path):
    with open(path, "rU") as fh:  # breaks: open mode "U" removed in Python 3.11
        return [line.rstrip("\n") for line in fh]


CUSTOMER_ID = re.compile(r"cust-\d+(?i)")  # breaks: global inline flag not at the start is an error in Python 3.11


def load_json(path):
    with open(path) as fh:
        return json.load(fh)


def landing_files(folder):
    return sorted(os.path.join(folder, name) for name in os.listdir(folder))
