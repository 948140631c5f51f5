"""Arguments that became keyword-only (or positions that went) between 14.3 LTS ML and 16.4 LTS
ML, read from the released wheels: pyarrow 8.0.0 -> 15.0.2 (read_table, ParquetFile and
write_dataset take only their first arguments by position since pyarrow 9.0), numpy 1.23.5 ->
1.26.4 (histogram lost normed, so it takes one argument fewer), scikit-learn 1.1.1 -> 1.4.2;
and calls that stay valid on 16.4."""

import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow.parquet import ParquetFile
from sklearn.decomposition import MiniBatchDictionaryLearning

from kyros.io import read_table  # the project's own read_table, not pyarrow's


def legacy(path, frame, weights, X):
    table = pq.read_table(path, ["user_id", "amount"])  # expect: PAR041
    threaded = pq.read_table(path, None, True)  # expect: PAR041
    meta = ParquetFile(path, None)  # expect: PAR040
    ds.write_dataset(table, "/dbfs/out", "part-{i}.parquet")  # expect: PAR039
    counts, edges = np.histogram(frame, 10, None, False, weights, True)  # expect: NPY167
    learner = MiniBatchDictionaryLearning(n_components=8)
    learner.partial_fit(X, None, 5)  # expect: SKL207
    return threaded, meta, counts, edges, learner


def modern(path, frame, weights, X, args, options):
    table = pq.read_table(path, columns=["user_id", "amount"])
    whole = pq.read_table(path)
    # A *splat makes the count unknown: not flagged (a false blocker costs more than a miss).
    spread = pq.read_table(*args)
    more = pq.read_table(path, *args)
    mine = read_table(path, ["user_id"], True)  # another module's read_table
    counts, edges = np.histogram(frame, 10, None, True, weights)  # five: still fine on 1.26
    meta = ParquetFile(path, metadata=None)
    ds.write_dataset(table, "/dbfs/out", basename_template="part-{i}.parquet")
    learner = MiniBatchDictionaryLearning(n_components=8)
    learner.partial_fit(X, None)
    return table, whole, spread, more, mine, counts, edges, meta, learner, options


class Reader:
    def read_table(self, path, columns, threads):
        return path, columns, threads


Reader().read_table("p", ["a"], True)  # the user's own method of the same name
