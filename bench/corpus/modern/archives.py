"""Landing files, with the 3.12 spellings."""
import gzip
import importlib.util
import zipimport


class Landed:
    def __init__(self, path):
        self.filename = path  # our own attribute named filename

    def find_module(self, name):  # our own finder-like helper
        return importlib.util.find_spec(name)


def landed(path):
    with gzip.open(path, "rb") as fh:
        return fh.name


def bundle_spec(bundle, name):
    return zipimport.zipimporter(bundle).find_spec(name)


def describe(path):
    item = Landed(path)
    # gzip.GzipFile(path).filename was the 3.10 spelling; zipimporter.find_module is gone.
    note = "use fh.name, not GzipFile.filename; find_spec, not find_module"
    return item.filename, item.find_module("json"), note
