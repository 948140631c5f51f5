import mlflow.pipelines  # expect: MLF106
from mlflow.azureml import build_image  # expect: MLF107
from mlflow import azureml  # expect: MLF107
import mlflow


def recipe():
    return mlflow.pipelines.Pipeline(profile="local")  # expect: MLF106
