"""Scoring tests."""
import unittest

import numpy as np


class ScoreTest(unittest.TestCase):
    def test_range(self):
        scores = np.array([0.1, 0.9], dtype=np.float)  # breaks: np.float removed in NumPy 1.24
        self.assertTrue(((scores >= 0) & (scores <= 1)).all())
        self.assertAlmostEquals(scores.sum(), 1.0)  # breaks: assertAlmostEquals removed in Python 3.12
