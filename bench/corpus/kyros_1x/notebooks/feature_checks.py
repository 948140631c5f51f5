# Databricks notebook source
import inspect

import pandas as pd

from features.encoders import FeatureEncoder

# COMMAND ----------

print(inspect.getargspec(FeatureEncoder.fit))  # breaks: inspect.getargspec removed in Python 3.11
enc = FeatureEncoder(["country"]).fit(spark.table("kyros.features").toPandas())

# COMMAND ----------

checks = pd.DataFrame({"column": enc.names()})
display(checks)
