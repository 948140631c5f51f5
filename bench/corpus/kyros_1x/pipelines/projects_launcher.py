"""Launch the feature backfill as an MLflow Project."""
import mlflow


def launch(uri, params):
    return mlflow.run(uri, entry_point="backfill", parameters=params, use_conda=False)  # breaks: use_conda removed in MLflow 2.0


def launch_projects(uri):
    from mlflow import projects

    return projects.run(uri, use_conda=True)  # breaks: use_conda removed in MLflow 2.0
