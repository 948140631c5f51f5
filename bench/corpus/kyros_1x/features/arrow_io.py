"""Arrow exports of the feature tables."""
import pyarrow as pa
import pyarrow.parquet as pq


def export(frame, path):
    table = pa.Table.from_pandas(frame)
    pq.write_table(table, path)
    return table.num_rows


def snapshot(obj):
    return pa.serialize(obj).to_buffer()  # breaks: pyarrow.serialize removed in pyarrow 12 (deprecated since 2.0)


def load(path, columns):
    return pq.read_table(path, columns)  # breaks: read_table takes only source by position since pyarrow 9.0 (TypeError on 15.0.2)
