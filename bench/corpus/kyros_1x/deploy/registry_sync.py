"""Copy stages between registries (pre-alias tooling)."""
from mlflow.tracking import MlflowClient


def production_models(uri):
    client = MlflowClient(registry_uri=uri)
    return [m.name for m in client.list_registered_models()]  # breaks: list_registered_models removed in MLflow 2.0


def promote(uri, name, version):
    client = MlflowClient(registry_uri=uri)
    client.transition_model_version_stage(name, version, "Production")
