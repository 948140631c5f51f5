"""Churn training for DBR 16.4 (MLflow 2.x)."""
import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from sklearn.ensemble import BaggingRegressor
from sklearn.metrics import ConfusionMatrixDisplay, roc_auc_score
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeRegressor


class ExperimentRegistry:
    """The project's own registry wrapper; its list_experiments is not MlflowClient's."""

    def __init__(self):
        self.client = MlflowClient()

    def list_experiments(self):
        return self.client.search_experiments()

    def list_registered_models(self):
        return self.client.search_registered_models()


def encoder():
    enc = OneHotEncoder(sparse_output=False, handle_unknown="ignore")
    return enc


def names(enc, columns):
    return list(enc.get_feature_names_out(columns))


def bagged():
    return BaggingRegressor(estimator=DecisionTreeRegressor(), n_estimators=50)


def train(frame: pd.DataFrame):
    registry = ExperimentRegistry()
    exps = registry.list_experiments()  # the wrapper, not the removed client method
    values = frame["tenure"].to_numpy(dtype=np.float64)
    with mlflow.start_run(experiment_id=exps[0].experiment_id):
        mlflow.log_metric("auc", roc_auc_score(frame["churn"], values))
        ConfusionMatrixDisplay.from_predictions(frame["churn"], values > 0.5)
    artifacts = registry.client.download_artifacts(mlflow.last_active_run().info.run_id, "model")
    return artifacts
