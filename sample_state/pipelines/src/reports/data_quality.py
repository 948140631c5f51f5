"""Row-count and null-rate checks on the raw tables."""


def main(spark):
    for table in ("kyros.raw.orders", "kyros.raw.transactions"):
        frame = spark.table(table)
        assert frame.count() > 0, table
