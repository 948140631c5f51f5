"""Find pipeline modules on the driver's path."""
import pkgutil


def modules(path):
    importer = pkgutil.ImpImporter(path)  # breaks: pkgutil.ImpImporter removed in Python 3.12
    return list(importer.iter_modules())
