# Databricks notebook source
# MAGIC %md
# MAGIC # Churn model training
# MAGIC Trains the gradient-boosted churn model and registers it as `kyros-churn`.

# COMMAND ----------

# MAGIC %pip install mlflow==1.30.1 scikit-learn==1.1.1

# COMMAND ----------

# MAGIC %run ../shared_setup

# COMMAND ----------

import mlflow
from mlflow.tracking import MlflowClient
from sklearn.ensemble import GradientBoostingClassifier

client = MlflowClient()
experiment = next(e for e in client.list_experiments() if e.name == "/Kyros/churn")

# COMMAND ----------

features = spark.table("kyros.features.churn").toPandas()
X, y = features.drop(columns=["churned"]), features["churned"]
with mlflow.start_run(experiment_id=experiment.experiment_id):
    model = GradientBoostingClassifier(n_estimators=300).fit(X, y)
    mlflow.sklearn.log_model(model, "model", registered_model_name="kyros-churn")

# COMMAND ----------

latest = client.get_latest_versions("kyros-churn", stages=["None"])[0]
client.transition_model_version_stage("kyros-churn", latest.version, "Staging")
