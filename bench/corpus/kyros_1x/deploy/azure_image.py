"""Build the AzureML scoring image (kept for the EU tenant)."""
import mlflow.azureml  # breaks: mlflow.azureml removed in MLflow 2.0
from azureml.core import Workspace


def build(model_uri, workspace_config):
    ws = Workspace.from_config(workspace_config)
    image, model = mlflow.azureml.build_image(model_uri=model_uri, workspace=ws)  # breaks: mlflow.azureml removed in MLflow 2.0
    return image
