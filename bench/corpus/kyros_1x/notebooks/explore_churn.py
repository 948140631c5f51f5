# Databricks notebook source
# MAGIC %md
# MAGIC # Churn exploration

# COMMAND ----------

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

client = MlflowClient()
experiments = client.list_experiments()  # breaks: MlflowClient.list_experiments removed in MLflow 2.0
display(pd.DataFrame([(e.experiment_id, e.name) for e in experiments]))

# COMMAND ----------

runs = client.list_run_infos(experiments[0].experiment_id)  # breaks: list_run_infos removed in MLflow 2.0
ages = np.array([r.start_time for r in runs], dtype=np.int)  # breaks: np.int removed in NumPy 1.24

# COMMAND ----------

local_path = client.download_artifacts(runs[0].run_id, "model")
print(local_path)
