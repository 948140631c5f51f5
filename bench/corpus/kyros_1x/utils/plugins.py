"""Load optional plugins from a folder."""
import imp  # breaks: imp removed in Python 3.12
import importlib
import inspect
import os


def load_plugin(path):
    name = os.path.splitext(os.path.basename(path))[0]
    return imp.load_source(name, path)


def arity(func):
    spec = inspect.getargspec(func)  # breaks: inspect.getargspec removed in Python 3.11
    return len(spec.args)


def find(name):
    return importlib.find_loader(name)  # breaks: importlib.find_loader removed in Python 3.12
