"""Version checks for the libraries a job needs."""
from distutils.version import LooseVersion  # breaks: distutils removed in Python 3.12

import mlflow
import sklearn


def check():
    if LooseVersion(mlflow.__version__) < LooseVersion("1.20"):
        raise RuntimeError("mlflow too old")
    return LooseVersion(sklearn.__version__)
