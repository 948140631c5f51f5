# Databricks notebook source
# MAGIC %md
# MAGIC # Recommender training (distributed, GPU)

# COMMAND ----------

import mlflow
from sparkdl import HorovodRunner


def train_one_worker():
    import horovod.torch as hvd

    hvd.init()


runner = HorovodRunner(np=4)
runner.run(train_one_worker)

# COMMAND ----------

for experiment in mlflow.list_experiments():
    print(experiment.name)
