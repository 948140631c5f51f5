import pandas as pd
import mlflow
from mlflow.recipes import Recipe  # expect: MLF301
import mlflow.fastai  # expect: MLF302

frame = pd.read_csv("features.csv")
frame = frame.append({"a": 1}, ignore_index=True)  # expect: PD201
for name, column in frame.iteritems():  # expect: PD202
    pass
series = pd.Series([1, 2])
series.append(series)  # expect: PD201
spark_pdf = spark.table("t").toPandas()  # noqa: F821
spark_pdf.copy().iteritems()  # expect: PD202
# Still fine on 17.3: list_experiments is gone since 2.0, but this crossing starts at 2.21.
experiments = mlflow.search_experiments()

# SciPy 1.15 (17.3) emptied scipy.misc: derivative, still there (deprecated) in 1.13.1 on 16.4, is gone.
from scipy.misc import derivative  # noqa: E402  # expect: SCP188
