"""Column type coercion for the raw event tables."""
import numpy

TYPES = {
    "user_id": numpy.object,  # breaks: np.object removed in NumPy 1.24
    "country": numpy.str,  # breaks: np.str removed in NumPy 1.24
    "amount": numpy.float64,
    "count": numpy.int64,
}


def coerce(frame):
    for column, kind in TYPES.items():
        if column in frame:
            frame[column] = frame[column].astype(kind)
    return frame
