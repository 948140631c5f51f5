"""Modern code with look-alike names: nothing here is a removed API, so nothing is reported."""

import configparser
import gzip
import unittest
import zipimport


class OwnAssertions(unittest.TestCase):
    # The project's own helper of a removed name: calls to it are not the removed API.
    def assertDictContainsSubset(self, subset, dictionary):
        self.assertLessEqual(subset.items(), dictionary.items())

    def test_subset(self):
        self.assertDictContainsSubset({"a": 1}, {"a": 1})
        self.assertEqual(1, 1)


class LegacyConfig(configparser.ConfigParser):
    def readfp(self, fp, source=None):  # its own readfp, forwarding to the modern API
        return self.read_file(fp, source)

    def load(self, fp):
        return self.readfp(fp)


class Reader:
    filename = "x"

    def readfp(self, fp):
        return fp.read()

    def find_module(self, name):
        return name


class SafeConfigParser:  # the project's own class of the removed name, not configparser's
    def readfp(self, fp):
        return fp.read()


Reader().readfp(open("a.txt"))
SafeConfigParser().readfp(open("a.txt"))
Reader().find_module("x")
print(Reader.filename)


def archive_name(path):
    with gzip.open(path) as fh:
        return fh.name  # the 3.12 spelling


def modern_finder(path, name):
    return zipimport.zipimporter(path).find_spec(name)


def describe(obj):
    # obj.filename and cfg.readfp(f) in a comment are not code
    text = "gzip.GzipFile(p).filename and self.assertEquals(a, b) in a string"
    return obj.filename, text  # an unknown object's filename: not gzip's


class Settings:
    def __init__(self):
        self.parser = configparser.ConfigParser()

    def load(self, fp):
        self.parser.read_file(fp)


import re  # noqa: E402


def modes(path):
    with open(path, "r") as fh:  # text mode reads universal newlines
        return fh.read(), "rU"  # the string alone is not a mode


STARTS = re.compile(r"(?i)cust-\d+")  # global flags at the start are fine
SCOPED = re.compile(r"cust-(?i:ABC)\d+")  # scoped flags are fine
