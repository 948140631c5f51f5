"""Image embeddings for the recommender's cold-start items."""
import mlflow
import torch


def main():
    with mlflow.start_run(run_name="embed"):
        mlflow.log_param("torch", torch.__version__)


if __name__ == "__main__":
    main()
