"""Library APIs that 14.3 LTS ML's releases have and 16.4 LTS ML's lack (scikit-learn 1.1.1 ->
1.4.2, pyarrow 8.0.0 -> 15.0.2, numpy 1.23.5 -> 1.26.4, torch 2.0.1 -> 2.6.0), read from the released wheels, and
look-alikes that stay valid on 16.4."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.misc
import scipy.stats
import torch
from sklearn.datasets import load_boston  # expect: SKL090
from sklearn.ensemble import BaggingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import OneHotEncoder


def legacy(frame, path):
    encoder = OneHotEncoder(sparse=False)  # expect: SKL091
    names = encoder.get_feature_names()  # expect: SKL093
    model = LinearRegression(normalize=True)  # expect: SKL113
    bag = BaggingRegressor(base_estimator=model)  # expect: SKL027
    blob = pa.serialize(frame).to_buffer()  # expect: PAR001
    table = pq.read_table(path, metadata=None)  # expect: PAR035
    checked = torch.is_tensor(obj=frame)  # expect: TCH002
    return load_boston(), names, bag, blob, table, np.long, checked  # expect: SKL090,NPY007


def modern(frame, path, values):
    encoder = OneHotEncoder(sparse_output=False)
    model = LinearRegression()
    bag = BaggingRegressor(estimator=model)
    table = pq.read_table(path)
    names = encoder.get_feature_names_out()
    # Still there on 16.4 (SciPy 1.13.1), deprecated: removed in 1.15 (17.3), not here.
    slope = scipy.misc.derivative(np.sin, 1.0, dx=1e-3)
    # SciPy 1.13 renamed moment= to order=, and its decorator still maps the old keyword.
    spread = scipy.stats.moment(values, moment=2)
    return names, bag, table, slope, spread, torch.is_tensor(values)


def serialize(obj):  # the project's own serialize, not pyarrow's
    return repr(obj)


serialize({"a": 1})
