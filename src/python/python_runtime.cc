// Python.h must be the first include (it sets feature macros).
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "python/python_runtime.h"

#include <bit>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "python/numpy_helper.h"

namespace inferd {

namespace {

Status g_init_status = Status::Ok();
std::once_flag g_init_once;

// numpy's ndarray type, numpy.empty and one dtype object per DataType, for the native conversions below;
// filled once at start-up (with the GIL, before any other thread uses Python), never released. Null when
// numpy lacks one of them: the conversions then all go through the helper module.
struct NumpyObjects {
  PyObject* ndarray = nullptr;
  PyObject* empty = nullptr;
  PyObject* dtypes[static_cast<size_t>(DataType::kBytes) + 1] = {};
};
NumpyObjects g_np;

void CacheNumpy(PyObject* np) {
  static constexpr std::pair<DataType, const char*> kNames[] = {
      {DataType::kBool, "bool_"},    {DataType::kUint8, "uint8"},    {DataType::kUint16, "uint16"},
      {DataType::kUint32, "uint32"}, {DataType::kUint64, "uint64"},  {DataType::kInt8, "int8"},
      {DataType::kInt16, "int16"},   {DataType::kInt32, "int32"},    {DataType::kInt64, "int64"},
      {DataType::kFp16, "float16"},  {DataType::kFp32, "float32"},   {DataType::kFp64, "float64"}};
  PyObject* dtype_fn = PyObject_GetAttrString(np, "dtype");
  NumpyObjects o;
  o.ndarray = PyObject_GetAttrString(np, "ndarray");
  o.empty = PyObject_GetAttrString(np, "empty");
  bool ok = dtype_fn && o.ndarray && o.empty;
  for (const auto& [dt, name] : kNames) {
    PyObject* scalar = ok ? PyObject_GetAttrString(np, name) : nullptr;
    PyObject* d = scalar ? PyObject_CallOneArg(dtype_fn, scalar) : nullptr;
    Py_XDECREF(scalar);
    o.dtypes[static_cast<size_t>(dt)] = d;
    ok = ok && d;
  }
  Py_XDECREF(dtype_fn);
  if (ok) {
    g_np = o;
    return;
  }
  PyErr_Clear();  // left to the helper module, which reports what is missing
}

void Initialize() {
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.install_signal_handlers = 0;  // SIGINT/SIGTERM stay inferd's
  config.parse_argv = 0;
  // The prefix of the libpython inferd links (Debian's: /usr), given by the build. Without it Python
  // derives its prefix from the first `python3` on PATH, which may be another installation (a pyenv
  // build here) whose standard library and site-packages do not match the linked libpython.
  PyStatus st = PyConfig_SetBytesString(&config, &config.home, INFERD_PYTHON_HOME);
  if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(st)) {
    g_init_status = Internal(std::string("python: cannot start the embedded interpreter: ") +
                             (st.err_msg ? st.err_msg : "unknown error"));
    return;
  }
  // Import numpy now, on this thread, so that a failure is reported once and clearly.
  PyObject* np = PyImport_ImportModule("numpy");
  if (!np) {
    g_init_status = PythonError("python: cannot import numpy (Debian's python3-numpy)");
  } else {
    CacheNumpy(np);
    Py_DECREF(np);
  }
  PyEval_SaveThread();  // release the GIL; every user takes it with GilLock
}

}  // namespace

Status EnsurePython() {
  std::call_once(g_init_once, Initialize);
  return g_init_status;
}

Status PythonPreload(const std::vector<std::string>& modules) {
  RETURN_IF_ERROR(EnsurePython());
  GilLock gil;
  for (const auto& m : modules) {
    PyObject* mod = PyImport_ImportModule(m.c_str());
    if (!mod) return PythonError("python: cannot import " + m);
    Py_DECREF(mod);
  }
  // Every object imported so far goes to the permanent generation (gc.freeze, Python >= 3.7): the cyclic
  // collector of a forked replica then never walks them, which would write their headers and copy every page
  // of the template's heap into the replica (copy-on-write).
  PyObject* gc = PyImport_ImportModule("gc");
  PyObject* r1 = gc ? PyObject_CallMethod(gc, "collect", nullptr) : nullptr;
  PyObject* r2 = r1 ? PyObject_CallMethod(gc, "freeze", nullptr) : nullptr;
  Py_XDECREF(r2);
  Py_XDECREF(r1);
  Py_XDECREF(gc);
  if (!r2) return PythonError("python: gc.freeze");
  return Status::Ok();
}

namespace {
bool g_fork_gil = false;
PyGILState_STATE g_fork_state;
}  // namespace

void PythonBeforeFork() {
  if (!Py_IsInitialized() || !g_init_status.ok()) return;
  g_fork_state = PyGILState_Ensure();
  g_fork_gil = true;
  PyOS_BeforeFork();
}

void PythonAfterFork(bool child) {
  if (!g_fork_gil) return;
  g_fork_gil = false;
  if (child) {
    PyOS_AfterFork_Child();
  } else {
    PyOS_AfterFork_Parent();
  }
  PyGILState_Release(g_fork_state);
}

namespace {

// Why not plain PyGILState_Ensure/Release: on a thread that has no Python thread state (every front-end
// thread), Ensure creates one and Release deletes it when its count returns to 0, so each request paid for
// a new PyThreadState (CPython 3.11 also maps a fresh 16 KiB frame stack for it: mmap, page faults, munmap)
// and lost its threading.local values (the shim's event loop). Measured: about 30 us of CPU per request on
// the in-process transformer (docs/benchmarks.md). A thread now keeps the thread state it first gets, with
// one count held for it, until the thread exits.
const std::thread::id g_main_thread = std::this_thread::get_id();  // static initialization runs on main

struct ThreadStateKeeper {
  bool primed = false;
  bool owned = false;  // the thread state was created here (not the interpreter's first, not a Python thread's)
  ~ThreadStateKeeper() {
    // The main thread's runs inside exit(), which must not wait for the GIL: its state is left to the process.
    if (!owned || std::this_thread::get_id() == g_main_thread) return;
    PyGILState_Ensure();                      // count 2, the GIL held
    PyGILState_Release(PyGILState_LOCKED);    // count 1, the GIL kept
    PyGILState_Release(PyGILState_UNLOCKED);  // count 0: the thread state is cleared and deleted, the GIL released
  }
};
thread_local ThreadStateKeeper t_keeper;

}  // namespace

GilLock::GilLock() {
  if (!t_keeper.primed) {
    t_keeper.primed = true;
    if (PyGILState_GetThisThreadState() == nullptr) {
      PyGILState_Ensure();  // creates this thread's state with count 1 and takes the GIL
      t_keeper.owned = true;
      PyEval_SaveThread();  // gives the GIL back; the count stays 1, so Release below never deletes the state
    }
  }
  state_ = static_cast<int>(PyGILState_Ensure());
}
GilLock::~GilLock() { PyGILState_Release(static_cast<PyGILState_STATE>(state_)); }

PyRef& PyRef::operator=(PyRef&& o) noexcept {
  if (this != &o) {
    reset();
    p_ = std::exchange(o.p_, nullptr);
  }
  return *this;
}

PyRef::~PyRef() { reset(); }

void PyRef::reset() {
  if (p_) {
    Py_DECREF(p_);
    p_ = nullptr;
  }
}

std::string PyToString(PyObject* obj) {
  if (!obj) return "<null>";
  PyRef s(PyObject_Str(obj));
  if (!s) {
    PyErr_Clear();
    return "<unprintable>";
  }
  Py_ssize_t n = 0;
  const char* c = PyUnicode_AsUTF8AndSize(s.get(), &n);
  if (!c) {
    PyErr_Clear();
    return "<unprintable>";
  }
  return std::string(c, static_cast<size_t>(n));
}

Status PythonError(std::string_view context) {
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  if (!type) return Internal(std::string(context) + ": unknown Python error");
  PyErr_NormalizeException(&type, &value, &tb);
  PyRef t(type), v(value), trace(tb);
  std::string msg(context);
  msg += ": ";
  PyRef name(PyObject_GetAttrString(type, "__name__"));
  if (name) msg += PyToString(name.get()) + ": ";
  else PyErr_Clear();
  msg += PyToString(value);
  // The innermost frame says where in the user's code it failed.
  if (tb) {
    PyObject* last = tb;
    for (;;) {
      PyRef next(PyObject_GetAttrString(last, "tb_next"));
      if (!next || next.get() == Py_None) break;
      last = next.get();  // borrowed: the traceback chain keeps it alive
    }
    PyErr_Clear();
    PyRef frame(PyObject_GetAttrString(last, "tb_frame"));
    PyRef lineno(PyObject_GetAttrString(last, "tb_lineno"));
    if (frame && lineno) {
      PyRef code(PyObject_GetAttrString(frame.get(), "f_code"));
      PyRef file(code ? PyObject_GetAttrString(code.get(), "co_filename") : nullptr);
      if (file) msg += " (at " + PyToString(file.get()) + ":" + PyToString(lineno.get()) + ")";
    }
    PyErr_Clear();
  }
  return Internal(std::move(msg));
}

PyRef GetAttrOrNull(PyObject* obj, const char* name) {
  PyObject* a = PyObject_GetAttrString(obj, name);
  if (!a) PyErr_Clear();
  return PyRef(a);
}

StatusOr<PyRef> ModuleFromSource(const char* name, const char* source) {
  PyObject* modules = PyImport_GetModuleDict();  // borrowed
  if (PyObject* m = PyDict_GetItemString(modules, name)) {
    Py_INCREF(m);
    return PyRef(m);
  }
  std::string file = std::string("<inferd:") + name + ">";
  PyRef code(Py_CompileString(source, file.c_str(), Py_file_input));
  if (!code) return PythonError(std::string("python: compiling ") + name);
  // Executed in a fresh module and registered only once complete: executing may release the GIL
  // (imports), and a module placed in sys.modules before that would be seen half-initialized by a
  // concurrent loader. Two racing loaders each build a complete module; the last one registered wins.
  PyRef mod(PyModule_New(name));
  if (!mod) return PythonError(std::string("python: creating ") + name);
  PyObject* globals = PyModule_GetDict(mod.get());  // borrowed
  if (PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) != 0) {
    return PythonError(std::string("python: creating ") + name);
  }
  PyRef result(PyEval_EvalCode(code.get(), globals, globals));
  if (!result) return PythonError(std::string("python: loading ") + name);
  if (PyDict_SetItemString(modules, name, mod.get()) != 0) return PythonError(std::string("python: registering ") + name);
  return mod;
}

StatusOr<PyRef> HelperFunction(const char* name) {
  ASSIGN_OR_RETURN(PyRef mod, ModuleFromSource("_inferd", kNumpyHelperSource));
  PyRef f(PyObject_GetAttrString(mod.get(), name));
  if (!f) return PythonError(std::string("python: _inferd.") + name);
  return f;
}

namespace {

PyRef ShapeTuple(const Shape& shape) {
  PyRef t(PyTuple_New(static_cast<Py_ssize_t>(shape.size())));
  if (!t) return t;
  for (size_t i = 0; i < shape.size(); ++i) {
    PyTuple_SET_ITEM(t.get(), static_cast<Py_ssize_t>(i), PyLong_FromLongLong(shape[i]));
  }
  return t;
}

// numpy.empty(shape, dtype) filled with the tensor's bytes: the array the helper's
// frombuffer(...).reshape(shape).copy() makes (C-contiguous, writable, owning its memory), in one Python call
// instead of four (about 1.5 us less per tensor, docs/benchmarks.md).
StatusOr<PyRef> NewNumpyCopy(const Tensor& t, PyObject* shape, PyObject* dtype) {
  PyRef arr(PyObject_CallFunctionObjArgs(g_np.empty, shape, dtype, nullptr));
  if (!arr) return PythonError("python: input '" + t.name() + "'");
  Py_buffer view;
  if (PyObject_GetBuffer(arr.get(), &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) != 0) {
    return PythonError("python: input '" + t.name() + "'");
  }
  const bool fits = static_cast<size_t>(view.len) == t.byte_size();
  if (fits && view.len > 0) std::memcpy(view.buf, t.raw(), static_cast<size_t>(view.len));
  PyBuffer_Release(&view);
  if (!fits) return InvalidArgument("input '" + t.name() + "': its contents do not match its shape");
  return arr;
}

// The datatype of a numpy buffer's element format (native byte order, as numpy exports its own arrays), or
// kInvalid for any other format (byte-swapped, long double, complex, structured...).
DataType NumpyFormatType(const char* format, Py_ssize_t itemsize) {
  if (!format || format[0] == '\0' || format[1] != '\0') return DataType::kInvalid;
  const char c = format[0];
  if (c == '?' && itemsize == 1) return DataType::kBool;
  const bool is_signed = c == 'b' || c == 'h' || c == 'i' || c == 'l' || c == 'q';
  const bool is_unsigned = c == 'B' || c == 'H' || c == 'I' || c == 'L' || c == 'Q';
  if (is_signed || is_unsigned) {
    switch (itemsize) {
      case 1: return is_signed ? DataType::kInt8 : DataType::kUint8;
      case 2: return is_signed ? DataType::kInt16 : DataType::kUint16;
      case 4: return is_signed ? DataType::kInt32 : DataType::kUint32;
      case 8: return is_signed ? DataType::kInt64 : DataType::kUint64;
      default: return DataType::kInvalid;
    }
  }
  if (c == 'e' && itemsize == 2) return DataType::kFp16;
  if (c == 'f' && itemsize == 4) return DataType::kFp32;
  if (c == 'd' && itemsize == 8) return DataType::kFp64;
  return DataType::kInvalid;
}

// A C-contiguous numpy.ndarray (the type itself, not a subclass) of a plain numeric dtype, copied straight
// from its buffer; nullopt (nothing pending) for anything else, which the helper module converts.
std::optional<Tensor> NumpyBufferToTensor(PyObject* obj, std::string& name) {
  static_assert(std::endian::native == std::endian::little, "tensors are little-endian");
  if (!g_np.ndarray || Py_TYPE(obj) != reinterpret_cast<PyTypeObject*>(g_np.ndarray)) return std::nullopt;
  Py_buffer view;
  if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
    PyErr_Clear();  // not C-contiguous: the helper copies it
    return std::nullopt;
  }
  const DataType dtype = NumpyFormatType(view.format, view.itemsize);
  if (dtype == DataType::kInvalid) {
    PyBuffer_Release(&view);
    return std::nullopt;
  }
  Shape shape(view.shape, view.shape + view.ndim);
  Tensor out(std::move(name), dtype, std::move(shape));
  char* dst = out.Allocate(static_cast<size_t>(view.len));
  if (view.len > 0) std::memcpy(dst, view.buf, static_cast<size_t>(view.len));
  PyBuffer_Release(&view);
  return out;
}

}  // namespace

const char* NumpyDatatypeName(DataType dtype) {
  return dtype == DataType::kBf16 ? "FP32" : DataTypeName(dtype).data();  // the names are NUL-terminated literals
}

PyObject* ShapeList(const Shape& shape) {
  PyObject* list = PyList_New(static_cast<Py_ssize_t>(shape.size()));
  if (!list) return nullptr;
  for (size_t i = 0; i < shape.size(); ++i) {
    PyObject* d = PyLong_FromLongLong(shape[i]);
    if (!d) {
      Py_DECREF(list);
      return nullptr;
    }
    PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), d);
  }
  return list;
}

StatusOr<PyRef> TensorToNumpy(const Tensor& t) {
  PyRef shape = ShapeTuple(t.shape());
  if (!shape) return PythonError("python: shape");
  if (t.dtype() == DataType::kBytes) {
    PyRef items(PyList_New(0));
    bool ok = ForEachBytesElement(t.bytes(), [&](std::string_view e) {
      PyRef b(PyBytes_FromStringAndSize(e.data(), static_cast<Py_ssize_t>(e.size())));
      if (b) PyList_Append(items.get(), b.get());
    });
    if (!ok) return InvalidArgument("input '" + t.name() + "': malformed BYTES contents");
    if (PyErr_Occurred()) return PythonError("python: BYTES input");
    ASSIGN_OR_RETURN(PyRef f, HelperFunction("bytes_to_numpy"));
    PyRef arr(PyObject_CallFunctionObjArgs(f.get(), items.get(), shape.get(), nullptr));
    if (!arr) return PythonError("python: input '" + t.name() + "'");
    return arr;
  }
  if (PyObject* dtype = g_np.dtypes[static_cast<size_t>(t.dtype())]) return NewNumpyCopy(t, shape.get(), dtype);
  PyRef buf;
  std::string_view dtype_name = DataTypeName(t.dtype());
  if (t.dtype() == DataType::kBf16) {
    // numpy has no bfloat16: hand it float32 values in a bytes object it keeps alive.
    ASSIGN_OR_RETURN(Tensor f32, ConvertTensor(t, DataType::kFp32));
    buf = PyRef(PyBytes_FromStringAndSize(f32.raw(), static_cast<Py_ssize_t>(f32.byte_size())));
    dtype_name = "FP32";
  } else {
    buf = PyRef(PyMemoryView_FromMemory(const_cast<char*>(t.raw()), static_cast<Py_ssize_t>(t.byte_size()),
                                        PyBUF_READ));
  }
  if (!buf) return PythonError("python: input buffer");
  ASSIGN_OR_RETURN(PyRef f, HelperFunction("to_numpy"));
  PyRef dt(PyUnicode_FromStringAndSize(dtype_name.data(), static_cast<Py_ssize_t>(dtype_name.size())));
  PyRef arr(PyObject_CallFunctionObjArgs(f.get(), buf.get(), dt.get(), shape.get(), nullptr));
  if (!arr) return PythonError("python: input '" + t.name() + "'");
  return arr;
}

StatusOr<Tensor> NumpyToTensor(PyObject* array_like, std::string name) {
  if (std::optional<Tensor> t = NumpyBufferToTensor(array_like, name)) return std::move(*t);
  ASSIGN_OR_RETURN(PyRef f, HelperFunction("from_numpy"));
  PyRef res(PyObject_CallFunctionObjArgs(f.get(), array_like, nullptr));
  if (!res) return PythonError("python: output '" + name + "' is not array-like");
  if (!PyTuple_Check(res.get()) || PyTuple_GET_SIZE(res.get()) != 3) return Internal("python: from_numpy contract");
  PyObject* dt = PyTuple_GET_ITEM(res.get(), 0);
  PyObject* shape = PyTuple_GET_ITEM(res.get(), 1);
  PyObject* data = PyTuple_GET_ITEM(res.get(), 2);
  const char* dt_name = PyUnicode_AsUTF8(dt);
  if (!dt_name) return PythonError("python: output datatype");
  Shape s;
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(shape); ++i) {
    s.push_back(PyLong_AsLongLong(PyTuple_GET_ITEM(shape, i)));
  }
  if (PyErr_Occurred()) return PythonError("python: output shape");
  DataType dtype = DataTypeFromName(dt_name);
  Tensor out(std::move(name), dtype, std::move(s));
  if (dtype == DataType::kBytes) {
    std::string buf;
    Py_ssize_t n = PyList_GET_SIZE(data);
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject* b = PyList_GET_ITEM(data, i);
      char* p = nullptr;
      Py_ssize_t len = 0;
      if (PyBytes_AsStringAndSize(b, &p, &len) != 0) return PythonError("python: output element");
      AppendBytesElement(&buf, std::string_view(p, static_cast<size_t>(len)));
    }
    out.SetOwned(std::move(buf));
    return out;
  }
  Py_buffer view;
  if (PyObject_GetBuffer(data, &view, PyBUF_C_CONTIGUOUS) != 0) return PythonError("python: output buffer");
  char* dst = out.Allocate(static_cast<size_t>(view.len));
  if (view.len > 0) std::memcpy(dst, view.buf, static_cast<size_t>(view.len));
  PyBuffer_Release(&view);
  return out;
}

}  // namespace inferd
