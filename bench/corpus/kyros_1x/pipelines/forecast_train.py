"""Demand forecast: linear baseline and bagged trees."""
import mlflow
import numpy as np
from sklearn.ensemble import BaggingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor


def baseline(x, y):
    model = LinearRegression(normalize=True)  # breaks: LinearRegression(normalize=) removed in scikit-learn 1.2
    model.fit(x, y)
    return model


def bagged(x, y):
    model = BaggingRegressor(base_estimator=DecisionTreeRegressor(), n_estimators=50)  # breaks: base_estimator removed in scikit-learn 1.4
    model.fit(x, y)
    return model


def run(x, y):
    with mlflow.start_run():
        for name, m in (("baseline", baseline(x, y)), ("bagged", bagged(x, y))):
            mlflow.log_metric(f"{name}_r2", m.score(x, y))
        weights = np.asarray(x, dtype=np.float)  # breaks: np.float removed in NumPy 1.24
        mlflow.log_metric("mean_weight", float(weights.mean()))
