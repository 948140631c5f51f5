"""Regression smoke test on a public data set (used by the feature-store demo job)."""
from sklearn.datasets import load_boston  # breaks: load_boston removed in scikit-learn 1.2
from sklearn.linear_model import Ridge


def smoke():
    data = load_boston()  # breaks: load_boston removed in scikit-learn 1.2
    return Ridge().fit(data.data, data.target).score(data.data, data.target)
