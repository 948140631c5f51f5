"""Model registry with aliases (MLflow 2.x)."""
from mlflow import MlflowClient


def champion(name):
    client = MlflowClient()
    return client.get_model_version_by_alias(name, "champion")


def experiments():
    client = MlflowClient()
    return client.search_experiments(max_results=100)


def run_infos(experiment_id):
    client = MlflowClient()
    return [r.info for r in client.search_runs([experiment_id])]


def artifacts(run_id):
    return MlflowClient().download_artifacts(run_id, "model")
