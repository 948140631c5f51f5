"""Raw file landing: gzip exports and zipped code bundles."""
import gzip
import zipimport


def landed_name(path):
    with gzip.GzipFile(path, "rb") as fh:
        return fh.filename  # breaks: GzipFile.filename removed in Python 3.12


def bundle_module(bundle, name):
    importer = zipimport.zipimporter(bundle)
    loader = importer.find_module(name)  # breaks: zipimporter.find_module removed in Python 3.12
    return loader.load_module(name) if loader else None
