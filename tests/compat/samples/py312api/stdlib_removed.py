"""Standard-library APIs that Python 3.10 (DBR 14.3) has and 3.12 (DBR 16.4) lacks, generated from
typeshed (PYS*), reached through instances, aliases, subclasses and context managers."""

import configparser as cp
import gzip
import unittest
import zipimport
from configparser import ConfigParser
from http.client import HTTPSConnection as Conn
from importlib import find_loader  # expect: PYS061


def archive_name(path):
    handle = gzip.GzipFile(path)
    return handle.filename  # expect: PYS051


def named(path):
    return gzip.GzipFile(path).filename  # expect: PYS051


with gzip.GzipFile("scores.gz") as fh:
    print(fh.filename)  # expect: PYS051


def legacy_finder(path, name):
    return zipimport.zipimporter(path).find_module(name)  # expect: PYS137


conn = Conn("mlflow.kyros.example", key_file="client.key")  # expect: PYS054
settings = cp.ConfigParser()
settings.readfp(open("pipeline.ini"))  # expect: PYS031
other = ConfigParser()
other.readfp(open("other.ini"))  # expect: PYS031


class ScoringTest(unittest.TestCase):
    def test_scores(self):
        self.assertEquals(1, 1)  # expect: PYS119
        self.assertDictContainsSubset({"a": 1}, {"a": 1, "b": 2})  # expect: PYS118
        with self.assertRaisesRegexp(ValueError, "bad"):  # expect: PYS123
            int("x")

    def helper(self):
        super().failUnless(True)  # expect: PYS129


class KyrosConfig(cp.RawConfigParser):
    def load(self, f):
        self.readfp(f)  # expect: PYS031


print(find_loader)  # expect: PYS061


def read_lines(path):
    with open(path, "rU") as fh:  # expect: PY311
        return fh.read().splitlines()


def read_mode(path):
    return open(path, mode="rbU").read()  # expect: PY311


import re  # noqa: E402

CUSTOMER = re.compile(r"cust-\d+(?i)")  # expect: PY312
MATCH = re.search("id: (\\d+)(?x)", "id: 1")  # expect: PY312


def load_legacy(path):
    legacy = cp.SafeConfigParser()  # expect: PY304
    legacy.readfp(open(path))  # expect: PYS031
    return cp.SafeConfigParser().readfp  # expect: PY304,PYS031
