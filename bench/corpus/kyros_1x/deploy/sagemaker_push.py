"""Push the Production model to the SageMaker endpoint (partner integration)."""
import mlflow.sagemaker


def push(model_uri, app):
    mlflow.sagemaker.deploy(app_name=app, model_uri=model_uri, region_name="eu-west-1", mode="replace")  # breaks: mlflow.sagemaker.deploy removed in MLflow 2.0


def remove(app):
    mlflow.sagemaker.delete(app_name=app, region_name="eu-west-1")  # breaks: mlflow.sagemaker.delete removed in MLflow 2.0
