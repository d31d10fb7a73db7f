// python/python_runtime.h: the one embedded CPython interpreter of an inferd process (Debian's
// libpython3.11, with the packages of Debian's /usr/bin/python3: numpy, sklearn, joblib...), shared by
// the scikit-learn runtime and, later, custom Python models.
//
// Contract:
// - EnsurePython() starts the interpreter on first use (thread-safe) and returns with the GIL
//   released. The interpreter is never finalized: extension modules such as numpy do not survive a
//   re-initialization, so Python objects may live until the process exits. Python does not install
//   signal handlers (inferd's own SIGTERM drain keeps working).
// - Every use of the C API happens while the calling thread holds a GilLock. Python exceptions never
//   escape: PythonError() turns the pending exception (type, message and the last traceback lines)
//   into a Status and clears it.
// - PyRef owns one strong reference. It must be reset or destroyed while the GIL is held; objects
//   owned by a Backend are released in its destructor under a GilLock.
// - Tensor conversion copies both ways: TensorToNumpy gives Python an array that owns its memory
//   (Python code may keep it after the request's buffers are gone), NumpyToTensor copies the array's
//   contents into an owned tensor.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "tensor/tensor.h"

// Forward declaration so that this header does not pull in <Python.h> (which must come first in any
// translation unit that includes it).
struct _object;
typedef _object PyObject;

namespace inferd {

// Starts the interpreter once; later calls return the first call's result.
Status EnsurePython();

// A replica template (supervisor/zygote.h) that imports Python before forking replicas: PythonPreload
// starts the interpreter, imports `modules` (so a forked replica finds them imported) and freezes them out of
// the cyclic collector's reach (gc.freeze: less copy-on-write in the replicas); the fork hooks
// call PyOS_BeforeFork / PyOS_AfterFork_Parent / PyOS_AfterFork_Child around fork() with the GIL held,
// and leave it released after, as EnsurePython does. Single-threaded callers only; the hooks do nothing
// when the interpreter was never started.
Status PythonPreload(const std::vector<std::string>& modules);
void PythonBeforeFork();
void PythonAfterFork(bool child);

// Holds the GIL for its lifetime (PyGILState_Ensure / Release). EnsurePython() must have succeeded. A thread
// keeps the Python thread state its first GilLock creates until it exits (so threading.local values persist
// across calls, and a call does not pay for a new thread state); nesting is allowed.
class GilLock {
 public:
  GilLock();
  ~GilLock();
  GilLock(const GilLock&) = delete;
  GilLock& operator=(const GilLock&) = delete;

 private:
  int state_;
};

// An owned (strong) reference.
class PyRef {
 public:
  PyRef() = default;
  explicit PyRef(PyObject* owned) : p_(owned) {}  // steals a new reference (may be null)
  PyRef(const PyRef&) = delete;
  PyRef& operator=(const PyRef&) = delete;
  PyRef(PyRef&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  PyRef& operator=(PyRef&& o) noexcept;
  ~PyRef();

  PyObject* get() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }
  PyObject* release() { return std::exchange(p_, nullptr); }
  void reset();

 private:
  PyObject* p_ = nullptr;
};

// The pending Python exception as a Status (kInternal unless mapped), prefixed with `context`.
Status PythonError(std::string_view context);

// Both need the GIL. Numeric tensors and C-contiguous numpy.ndarrays of a plain numeric dtype are converted
// natively (numpy.empty + memcpy; the buffer protocol); BYTES, BF16 and every other array-like go through
// inferd's own Python module (python/numpy_helper.py). Either way the result is the helper's.
StatusOr<PyRef> TensorToNumpy(const Tensor& t);
StatusOr<Tensor> NumpyToTensor(PyObject* array_like, std::string name);

// The V2 datatype of the array TensorToNumpy makes for a tensor of `dtype` (its name; "FP32" for BF16, which
// numpy lacks), and a tensor's shape as a new Python list (null with the exception set on failure): what the
// kserve shim's InferOutput is built from without asking numpy.
const char* NumpyDatatypeName(DataType dtype);
PyObject* ShapeList(const Shape& shape);

// getattr(obj, name) or an empty PyRef (no exception left pending) when absent.
PyRef GetAttrOrNull(PyObject* obj, const char* name);

// Imports inferd's helper module `_inferd` (numpy conversions) and returns a new reference to
// attribute `name` of it.
StatusOr<PyRef> HelperFunction(const char* name);

// Compiles `source` as module `name` (registered in sys.modules) and returns it; a module already
// registered under that name is returned as it is. Used for the Python half of a runtime, which lives
// in the binary so that nothing outside it has to be installed.
StatusOr<PyRef> ModuleFromSource(const char* name, const char* source);

// str(obj) as UTF-8, or "<unprintable>".
std::string PyToString(PyObject* obj);

}  // namespace inferd
