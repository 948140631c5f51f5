"""Version helpers shared by Kyros jobs (packaged as the kyros_common wheel)."""
from distutils.version import LooseVersion

import mlflow


def client_is_legacy():
    return LooseVersion(mlflow.__version__) < LooseVersion("2.0")
