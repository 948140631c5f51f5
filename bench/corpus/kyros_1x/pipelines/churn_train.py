"""Churn model training (nightly job)."""
import logging

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import plot_confusion_matrix, roc_auc_score  # breaks: plot_confusion_matrix removed in scikit-learn 1.2
from sklearn.model_selection import train_test_split

log = logging.getLogger(__name__)
EXPERIMENT = "kyros-churn-train"


def experiment_id(client):
    for exp in client.list_experiments():  # breaks: MlflowClient.list_experiments removed in MLflow 2.0
        if exp.name == EXPERIMENT:
            return exp.experiment_id
    return client.create_experiment(EXPERIMENT)


def load(path):
    df = pd.read_parquet(path)
    df["tenure"] = df["tenure"].astype(np.float)  # breaks: np.float removed in NumPy 1.24
    df["active"] = df["active"].astype(np.bool)  # breaks: np.bool removed in NumPy 1.24
    return df


def train(path):
    client = MlflowClient()
    exp = experiment_id(client)
    df = load(path)
    x_train, x_test, y_train, y_test = train_test_split(df.drop(columns="churn"), df["churn"])
    with mlflow.start_run(experiment_id=exp):
        model = GradientBoostingClassifier(n_estimators=200)
        model.fit(x_train, y_train)
        auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
        mlflow.log_metric("auc", auc)
        disp = plot_confusion_matrix(model, x_test, y_test)  # breaks: plot_confusion_matrix removed in scikit-learn 1.2
        mlflow.log_figure(disp.figure_, "confusion.png")
        mlflow.sklearn.log_model(model, "model")
    log.info("auc %.3f", auc)
    return auc
