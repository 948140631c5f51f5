"""Batch scoring with the Production model."""
import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.tracking import MlflowClient

MODEL = "kyros-churn"


def production_version(client):
    for rm in client.list_registered_models():  # breaks: list_registered_models removed in MLflow 2.0
        if rm.name == MODEL:
            for mv in rm.latest_versions:
                if mv.current_stage == "Production":
                    return mv.version
    return None


def score(path, out):
    client = MlflowClient()
    version = production_version(client)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}/{version}")
    frame = pd.read_parquet(path)
    frame["score"] = model.predict(frame)
    frame.to_parquet(out)
    local = client.download_artifacts(mlflow.active_run().info.run_id, "model") if mlflow.active_run() else None
    return local
