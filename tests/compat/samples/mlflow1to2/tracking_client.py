"""Kyros-style tracking helpers written against MLflow 1.x."""

import mlflow
import mlflow as mf
from mlflow.tracking import MlflowClient
from mlflow.tracking import MlflowClient as C
from mlflow import list_run_infos  # expect: MLF103
from mlflow.client import MlflowClient as Client2


def experiments():
    return mlflow.list_experiments()  # expect: MLF101


def experiments_alias():
    return mf.list_experiments(view_type=1)  # expect: MLF101


def inline_client():
    return C().list_experiments()  # expect: MLF101


client = MlflowClient()
models = client.list_registered_models()  # expect: MLF102
runs = list_run_infos("0")  # expect: MLF103
infos = client.list_run_infos("0")  # expect: MLF103


class Registry:
    def __init__(self, uri):
        self.client = Client2(tracking_uri=uri)

    def fetch(self, run_id):
        # Still defined in every 2.x and 3.x release (the retracted MLF104 flagged it): silent.
        self.client.download_artifacts(run_id, "model")
        return self.client.list_run_infos("0")  # expect: MLF103

    def promote(self, name, version):
        self.client.transition_model_version_stage(name, version, "Production")  # expect: MLF201
        return self.client.get_latest_versions(name)  # expect: MLF201


def typed(c: MlflowClient):
    return c.list_experiments()  # expect: MLF101


def metrics(model, x, y):
    return mlflow.sklearn.eval_and_log_metrics(model, x, y, prefix="val_")  # expect: MLF105


def project():
    mlflow.run(".", use_conda=False)  # expect: MLF109
    mlflow.projects.run(".", entry_point="main", use_conda=True)  # expect: MLF109
    mlflow.run(".", env_manager="local")  # fine: the 2.x spelling


def deploy():
    mlflow.sagemaker.deploy("app", "runs:/1/model")  # expect: MLF108


def rebinding():
    client = object()
    return client.list_experiments()  # not an MlflowClient any more: no finding


def suppressed():
    return mlflow.list_experiments()  # cockpit: ignore[MLF101] read-only report, retired with the 1.x server


# cockpit: ignore[mlflow-list-registered-models-removed] the line below is suppressed by rule name
legacy = client.list_registered_models()
also_not_suppressed = client.list_registered_models()  # cockpit: ignore[MLF999] wrong code  # expect: MLF102
