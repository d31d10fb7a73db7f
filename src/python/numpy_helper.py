"""inferd's helper module `_inferd`: the numpy side of tensor conversion (python/python_runtime.h).

inferd compiles this file into its binary; tests/python/numpy_helper_test.py runs it with python3.
"""
import numpy as _np

_NP = {'BOOL': _np.bool_, 'UINT8': _np.uint8, 'UINT16': _np.uint16, 'UINT32': _np.uint32,
       'UINT64': _np.uint64, 'INT8': _np.int8, 'INT16': _np.int16, 'INT32': _np.int32,
       'INT64': _np.int64, 'FP16': _np.float16, 'FP32': _np.float32, 'FP64': _np.float64}

_KIND = {('b', 1): 'BOOL', ('u', 1): 'UINT8', ('u', 2): 'UINT16', ('u', 4): 'UINT32',
         ('u', 8): 'UINT64', ('i', 1): 'INT8', ('i', 2): 'INT16', ('i', 4): 'INT32',
         ('i', 8): 'INT64', ('f', 2): 'FP16', ('f', 4): 'FP32', ('f', 8): 'FP64'}

def to_numpy(buf, datatype, shape):
    # A copy that numpy owns: `buf` views the request's buffer, which is freed after the request, and
    # Python code (a user's estimator or model) may keep what it was given.
    return _np.frombuffer(buf, dtype=_NP[datatype]).reshape(shape).copy()

def bytes_to_numpy(items, shape):
    a = _np.empty(len(items), dtype=object)
    a[:] = items
    return a.reshape(shape)

def from_numpy(x):
    """(datatype, shape, C-contiguous little-endian array) or ('BYTES', shape, [bytes])."""
    a = _np.asarray(x)
    dt = _KIND.get((a.dtype.kind, a.dtype.itemsize))
    if dt is not None:
        return dt, a.shape, _np.ascontiguousarray(a, dtype=a.dtype.newbyteorder('<'))
    if a.dtype.kind == 'f':
        return 'FP64', a.shape, _np.ascontiguousarray(a, dtype='<f8')
    flat = []
    for v in a.ravel().tolist():
        if isinstance(v, bytes):
            flat.append(v)
        elif isinstance(v, str):
            flat.append(v.encode('utf-8'))
        else:
            flat.append(str(v).encode('utf-8'))
    return 'BYTES', a.shape, flat
