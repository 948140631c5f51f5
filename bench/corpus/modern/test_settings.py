"""Tests with the project's own assertion helpers of old names."""
import unittest


class Assertions(unittest.TestCase):
    def assertDictContainsSubset(self, subset, dictionary, msg=None):
        self.assertLessEqual(subset.items(), dictionary.items(), msg)

    def assertEquals(self, first, second, msg=None):  # our alias, defined on purpose
        self.assertEqual(first, second, msg)


class SettingsTest(Assertions):
    def test_subset(self):
        self.assertEqual({"a": 1}["a"], 1)
        self.assertRaisesRegex(ValueError, "x", int, "x")


class PlainTest(unittest.TestCase):
    def assertEquals(self, a, b):
        return self.assertEqual(a, b)

    def test_own(self):
        self.assertEquals(1, 1)  # our own method of the removed name
