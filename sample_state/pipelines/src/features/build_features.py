"""Feature tables for churn, fraud and recsys (already on 16.4 since the pilot wave)."""
import datetime as dt

import mlflow
from pyspark.sql import functions as F


def build(spark):
    orders = spark.table("kyros.raw.orders")
    daily = orders.groupBy("customer_id").agg(F.count("*").alias("orders"))
    daily.write.mode("overwrite").saveAsTable("kyros.features.orders_daily")
    mlflow.log_param("built_at", dt.datetime.now(tz=dt.UTC).isoformat())
