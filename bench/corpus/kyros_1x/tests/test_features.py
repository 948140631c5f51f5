"""Unit tests of the feature code (run by the CI job on the cluster)."""
import unittest

import pandas as pd

from features.dtypes import coerce


class CoerceTest(unittest.TestCase):
    def test_types(self):
        frame = coerce(pd.DataFrame({"amount": ["1.5"], "count": ["2"]}))
        self.assertEquals(frame["amount"].iloc[0], 1.5)  # breaks: assertEquals removed in Python 3.12
        self.assertDictContainsSubset({"amount": 1.5}, frame.iloc[0].to_dict())  # breaks: assertDictContainsSubset removed in Python 3.12

    def test_bad(self):
        with self.assertRaisesRegexp(ValueError, "could not convert"):  # breaks: assertRaisesRegexp removed in Python 3.12
            coerce(pd.DataFrame({"amount": ["x"]}))

    def test_flags(self):
        self.failUnless(True)  # breaks: failUnless removed in Python 3.12
        self.assertNotEquals(1, 2)  # breaks: assertNotEquals removed in Python 3.12


if __name__ == "__main__":
    unittest.main()
