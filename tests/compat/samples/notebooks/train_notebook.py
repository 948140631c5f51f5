# Databricks notebook source
# MAGIC %md
# MAGIC # Churn training (runs on the job cluster)
# MAGIC mlflow.list_experiments() in markdown is not code

# COMMAND ----------

# MAGIC %pip install mlflow==1.30.1 numpy==1.23.5 horovod==0.28.1  # expect: REQ102, REQ103, DBR101

# COMMAND ----------

# MAGIC %run ./shared_setup

# COMMAND ----------

import mlflow
from sparkdl import HorovodRunner  # expect: DBR101
import horovod.torch as hvd  # expect: DBR101

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT mlflow.list_experiments() FROM t

# COMMAND ----------

experiments = mlflow.list_experiments()  # expect: MLF101
runner = HorovodRunner(np=2)  # expect: DBR101

# COMMAND ----------

def broken(:  # expect: CPT001
    pass

# COMMAND ----------

# an alias from an earlier cell still resolves after a cell that failed to parse
client = mlflow.tracking.MlflowClient()
client.list_registered_models()  # expect: MLF102
