"""Nightly KPI report: reads the feature tables, writes a dashboard table."""
import mlflow


def main(spark):
    kpis = spark.table("kyros.features.orders_daily").summary()
    kpis.write.mode("overwrite").saveAsTable("kyros.reports.nightly_kpis")
    for experiment in mlflow.search_experiments(filter_string="name LIKE '/Kyros/%'"):
        print(experiment.name)
