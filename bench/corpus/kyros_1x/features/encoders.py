"""Categorical encoding for the churn and forecast features."""
import numpy as np
import pandas as pd
from sklearn.preprocessing import OneHotEncoder, StandardScaler


class FeatureEncoder:
    def __init__(self, columns):
        self.columns = columns
        self.encoder = OneHotEncoder(sparse=False, handle_unknown="ignore")  # breaks: OneHotEncoder(sparse=) removed in scikit-learn 1.4
        self.scaler = StandardScaler()

    def fit(self, frame):
        self.encoder.fit(frame[self.columns])
        return self

    def names(self):
        return list(self.encoder.get_feature_names(self.columns))  # breaks: get_feature_names removed in scikit-learn 1.2

    def transform(self, frame):
        encoded = self.encoder.transform(frame[self.columns])
        return pd.DataFrame(encoded, columns=self.names(), dtype=np.float)  # breaks: np.float removed in NumPy 1.24
