"""The regression template, as MLflow Pipelines shipped it in 1.27."""
from mlflow.pipelines import Pipeline  # breaks: mlflow.pipelines removed in MLflow 2.0


def run(profile="databricks"):
    p = Pipeline(profile=profile)
    p.run()
    return p.inspect()
