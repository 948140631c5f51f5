"""Plugin loading with importlib (3.12)."""
import importlib.util
import inspect


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def arity(func):
    return len(inspect.signature(func).parameters)


class Loader:
    def load_source(self, name, path):  # named like imp.load_source, our own
        return load(path, name)

    def getargspec(self, func):
        return inspect.getfullargspec(func)
