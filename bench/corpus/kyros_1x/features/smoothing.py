"""Numerical helpers for the demand curves."""
import numpy as np
from scipy.misc import derivative  # deprecated, not removed by 16.4 (see README: corrections)


def slope(f, x):
    return derivative(f, x, dx=1e-3)  # deprecated, not removed by 16.4 (see README: corrections)


def smooth(values, window=7):
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="same")
