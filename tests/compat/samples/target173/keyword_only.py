"""pandas 2.0 enforced keyword-only arguments (16.4 LTS ML has pandas 1.5.3, 17.3 LTS ML 2.2.3):
calls passing more than the first one or two arguments by position raise TypeError on 17.3.
Read from the signatures in the 1.5.3 and 2.0.0 wheels (catalog entry
pandas2-keyword-only-arguments)."""

import pandas as pd
from pandas import concat

from kyros.frames import drop_duplicates  # the project's own helper of a pandas name

frame = pd.read_csv("features.csv", ";")  # expect: PDA972
both = concat([frame, frame], 1)  # expect: PDA973
narrow = frame.drop("raw", 1)  # expect: PDA974
filled = frame.fillna(0, None, 1)  # expect: PDA975
ordered = frame.sort_values("ts", False)  # expect: PDA976
kept = frame.where(frame > 0, 0, True)  # expect: PDA981
unbound = pd.DataFrame.drop(frame, "raw", 1)  # expect: PDA974

# Valid on 17.3: keywords, the arguments that stay positional, and *splats (count unknown).
frame = pd.read_csv("features.csv", sep=";")
both = pd.concat([frame, frame], axis=1)
narrow = frame.drop("raw", axis=1)
kept = frame.where(frame > 0, 0)
columns = ["raw", "tmp"]
trimmed = frame.drop(*columns)
rows = drop_duplicates(frame, "id", "first")
