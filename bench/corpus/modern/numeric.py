"""dtype handling with the sized NumPy types."""
import numpy as np

FLOAT = np.float64
INT = np.int64
BOOL = np.bool_


class Dtypes:
    float = "float64"  # a class attribute named float, not numpy's
    int = "int64"


def cast(values):
    return np.asarray(values, dtype=np.float64)


def names():
    d = Dtypes()
    return d.float, d.int, "np.float was removed in 1.24"
