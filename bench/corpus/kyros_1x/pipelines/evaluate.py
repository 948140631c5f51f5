"""Offline evaluation of a candidate."""
import mlflow
import mlflow.sklearn
from sklearn.metrics import plot_roc_curve  # breaks: plot_roc_curve removed in scikit-learn 1.2


def evaluate(model, x, y):
    with mlflow.start_run(nested=True):
        metrics = mlflow.sklearn.eval_and_log_metrics(model, x, y, prefix="val_")  # breaks: eval_and_log_metrics removed in MLflow 2.0
        plot_roc_curve(model, x, y)  # breaks: plot_roc_curve removed in scikit-learn 1.2
    return metrics
