"""Customer segmentation."""
import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans


def segments(features, k=8):
    model = AgglomerativeClustering(n_clusters=k, affinity="euclidean", linkage="ward")  # breaks: affinity removed in scikit-learn 1.4
    labels = model.fit_predict(features)
    km = KMeans(n_clusters=k, n_init=10).fit(features)
    return labels, km.labels_, np.asarray(labels, dtype=np.int)  # breaks: np.int removed in NumPy 1.24
