"""Numerical helpers for the demand curves."""
import numpy as np
from scipy.misc import derivative  # breaks: scipy.misc.derivative removed in SciPy 1.12


def slope(f, x):
    return derivative(f, x, dx=1e-3)  # breaks: scipy.misc.derivative removed in SciPy 1.12


def smooth(values, window=7):
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="same")
