"""A/B test read-outs for the pricing team."""
import pandas as pd


def summarise(path):
    frame = pd.read_parquet(path)
    rows = []
    for name, column in frame.items():
        rows.append((name, column.mean()))
    return pd.DataFrame(rows, columns=["metric", "mean"])
