import mlflow

def f(:  # expect: CPT001
    mlflow.list_experiments()
