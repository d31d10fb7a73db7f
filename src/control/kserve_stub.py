# control/kserve_stub.py: the `kserve` package a plain Python process finds when `inferd serve` runs a custom
# predictor container whose command is a Python interpreter (KServe's custom-model samples and test images:
# `python model.py --model_name m`, a `kserve.Model` subclass handed to `kserve.ModelServer().start`).
#
# KServe's Python library cannot be installed here; inferd provides its API inside `inferd model-server`'s
# embedded interpreter (backends/python/kserve_shim.py). So when such a program imports `kserve`, this module
# replaces the process (execv, same pid: the supervisor keeps watching it) with
# `inferd model-server --python <the program> --python_arg <each argument>`, serving the program's models on the
# port the container was given (PORT). The program then runs again from its start, inside inferd, where
# `import kserve` finds the real thing. A program that never imports kserve (any other HTTP server) never
# reaches this file and runs as written. inferd serve installs it as DATA_DIR/python/kserve/__init__.py and
# puts that directory last on the container's PYTHONPATH: a kserve package on the container's own PYTHONPATH wins;
# one installed in site-packages does not (PYTHONPATH comes first), and then runs inside `inferd model-server`
# too, whose kserve module uses an installed package's classes (backends/python/kserve_shim.py install()).
import os
import sys


def _program():
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", None):
        name = spec.name
        if name.endswith(".__main__"):
            name = name[: -len(".__main__")]
        return "--python_module=" + name
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv else "")
    if not path or not os.path.isfile(path):
        raise ImportError("inferd: `import kserve` from a program that is neither a file nor a module; "
                          "run it as `python file.py` or `python -m module`")
    return "--python=" + os.path.abspath(path)


def _exec_model_server():
    binary = os.environ.get("INFERD_BIN", "")
    if not binary or not os.access(binary, os.X_OK):
        raise ImportError("inferd: the kserve module comes with `inferd model-server`, and INFERD_BIN does not "
                          "name it")
    argv = [binary, "model-server", _program()]
    argv += ["--python_arg=" + a for a in sys.argv[1:]]
    port = os.environ.get("PORT", "")
    if port:
        argv += ["--http_port=" + port]
    argv += ["--enable_grpc=false"]
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.abspath(p) != here]
    # `python -m module` found the module in the working directory; the model server looks there too.
    if argv[2].startswith("--python_module="):
        parts.insert(0, os.getcwd())
    env["PYTHONPATH"] = os.pathsep.join(parts)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(binary, argv, env)


_exec_model_server()
