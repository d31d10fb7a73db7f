"""src/python/numpy_helper.py (inferd's `_inferd` module) run by python3 directly: the numpy side of
TensorToNumpy / NumpyToTensor. The same file is compiled into inferd."""
import importlib.util
import os
import unittest

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_spec = importlib.util.spec_from_file_location("_inferd_test", os.path.join(ROOT, "src", "python", "numpy_helper.py"))
helper = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helper)


class ToNumpy(unittest.TestCase):
    def test_copy_with_dtype_and_shape(self):
        buf = bytearray(np.arange(6, dtype="<i4").tobytes())
        a = helper.to_numpy(memoryview(buf), "INT32", (2, 3))
        self.assertEqual((a.dtype, a.shape), (np.dtype(np.int32), (2, 3)))
        buf[:4] = b"\xff\xff\xff\xff"  # inferd frees the request's buffer after the call: `a` must not see it
        self.assertEqual(int(a[0, 0]), 0)
        self.assertTrue(a.flags.owndata)

    def test_every_datatype(self):
        for name, t in (("BOOL", np.bool_), ("UINT8", np.uint8), ("UINT64", np.uint64), ("INT8", np.int8),
                        ("FP16", np.float16), ("FP64", np.float64)):
            a = helper.to_numpy(np.zeros(2, dtype=t).tobytes(), name, (2,))
            self.assertEqual(a.dtype, np.dtype(t), name)

    def test_unknown_datatype_raises(self):
        with self.assertRaises(KeyError):
            helper.to_numpy(b"\0" * 4, "FP8", (4,))

    def test_bytes_to_numpy(self):
        a = helper.bytes_to_numpy([b"a", b"", b"xyz", b"q"], (2, 2))
        self.assertEqual((a.dtype, a.shape), (np.dtype(object), (2, 2)))
        self.assertEqual(a[1, 0], b"xyz")


class FromNumpy(unittest.TestCase):
    def test_numeric_little_endian_contiguous(self):
        x = np.arange(6, dtype=">f4").reshape(2, 3).T  # big-endian and not C-contiguous
        dt, shape, a = helper.from_numpy(x)
        self.assertEqual((dt, shape), ("FP32", (3, 2)))
        self.assertTrue(a.flags.c_contiguous)
        self.assertIn(a.dtype.byteorder, ("<", "="))
        np.testing.assert_array_equal(a, x)

    def test_lists_and_scalars(self):
        self.assertEqual(helper.from_numpy([True, False])[0], "BOOL")
        dt, shape, _ = helper.from_numpy(3)
        self.assertEqual((dt, shape), ("INT64", ()))

    def test_wide_floats_become_fp64(self):
        if np.dtype(np.longdouble).itemsize == 8:
            self.skipTest("long double is double here")
        dt, _, a = helper.from_numpy(np.array([1.5], dtype=np.longdouble))
        self.assertEqual((dt, a.dtype), ("FP64", np.dtype("<f8")))

    def test_everything_else_becomes_bytes(self):
        dt, shape, flat = helper.from_numpy(np.array([["é", b"raw"], [None, 2.5]], dtype=object))
        self.assertEqual((dt, shape), ("BYTES", (2, 2)))
        self.assertEqual(flat, ["é".encode("utf-8"), b"raw", b"None", b"2.5"])


if __name__ == "__main__":
    unittest.main()
