import pandas as pd

frame = pd.read_parquet("history.parquet")
print(frame.describe())
