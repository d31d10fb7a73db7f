#!/usr/bin/python3
"""Checks docker/Dockerfile without a container builder (none runs on these machines).

  1. Stages: every FROM is Debian bookworm (debian:bookworm or debian:bookworm-slim) or an earlier stage; the
     stages `build`, `operator` and `model-server` exist, model-server last (the default target).
  2. The build stage runs the repository's own scripts and nothing else: each RUN is `[VAR=value ...] bash
     scripts/<name>.sh [args]`, which is run here with DRY_RUN=1 (ARG defaults substituted) and must succeed:
     setup.sh must list packages that exist here (installed, or known to apt), and dev.sh release must print
     the build type the tests and benchmarks use (RelWithDebInfo) without tests, a build of the `inferd` target
     only and an install under the prefix that the runtime stages copy from.
  3. COPY sources: a path of the build context exists and .dockerignore does not leave it out; a --from stage
     exists and its path lies under the prefix the build stage installs to.
  4. Shared libraries: for each runtime stage (operator, model-server), the binaries it copies (bin/inferd,
     and lib/inferd/*.so when it copies the whole prefix) are taken from the local build (--binary, default
     build/inferd, plugins beside it). Each library a binary names (readelf NEEDED) must belong to a Debian
     package (dpkg -S) that the stage or a stage it is built on installs by name with apt-get, or to the base
     image; each library `ldd` resolves must belong to a package of what apt installs then (the Depends
     closure of those packages, among the packages installed here) or of the base image. A library of no
     package must be one `dev.sh release` installs into the prefix (ONNX Runtime). The base image is
     approximated by this machine's packages of Priority required, Essential ones and apt with its
     dependencies (what debian:bookworm-slim holds).
     Only runtime libraries: every package a runtime stage names must own a library that one of its binaries
     loads, or be a Python module package (python3-*, imported by the embedded CPython).
  5. Runtime stages run as a numeric non-root USER (Kubernetes' runAsNonRoot can only check a number) with
     ENTRYPOINT ["inferd"]; model-server creates /mnt/models.
--size prints the estimated uncompressed size of each runtime image: the base set's installed sizes, plus the
installed sizes of the packages the stages add, plus the copied files (the local binaries with debug
information stripped, and ONNX Runtime). An estimate: versions here may differ from the archive's.
Usage: scripts/check_dockerfile.py [--binary build/inferd] [--size] [repository root]   (exit 1 on any problem)
Run by tests/scripts/check_dockerfile_test.py (ctest; a few seconds).
"""
import argparse
import fnmatch
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

BOOKWORM = ("debian:bookworm", "debian:bookworm-slim")
STAGES = ("build", "operator", "model-server")
TESTED_BUILD_TYPE = "RelWithDebInfo"  # scripts/dev.sh's default: what `dev.sh test` and the benchmarks build
SCRIPT_RUN = re.compile(r"^((?:[A-Z_][A-Z0-9_]*=\S*\s+)*)bash\s+(scripts/[\w.-]+\.sh)((?:\s+\S+)*)\s*$")


# ---- the Dockerfile --------------------------------------------------------------------------------------
def parse_dockerfile(path):
    """[{name, base, instructions: [(keyword, text)], args: {}}] in order."""
    lines, cur = [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not cur and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if cur and line.lstrip().startswith("#"):
                continue  # a comment inside a continued instruction
            if line.endswith("\\"):
                cur += line[:-1] + " "
                continue
            lines.append(cur + line)
            cur = ""
    if cur:
        lines.append(cur)
    stages, global_args = [], {}
    for line in lines:
        kw, _, rest = line.strip().partition(" ")
        kw, rest = kw.upper(), rest.strip()
        if kw == "FROM":
            m = re.match(r"^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$", rest, re.I)
            stages.append({"name": m.group(2) or str(len(stages)), "base": m.group(1), "instructions": [],
                           "args": dict(global_args)})
        elif not stages:
            if kw == "ARG":
                k, _, v = rest.partition("=")
                global_args[k] = v
        else:
            stages[-1]["instructions"].append((kw, rest))
            if kw == "ARG":
                k, _, v = rest.partition("=")
                stages[-1]["args"][k] = v
    return stages


def substitute(text, args):
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), ""), text)


def stage_chain(stages, stage):
    """The stage and the stages it is built on, base first."""
    by = {s["name"]: s for s in stages}
    chain = [stage]
    while chain[0]["base"] in by:
        chain.insert(0, by[chain[0]["base"]])
    return chain


def apt_packages(stage):
    """Packages an `apt-get install` of the stage names."""
    out = []
    for kw, text in stage["instructions"]:
        if kw != "RUN":
            continue
        for part in re.split(r"&&|;", text):
            words = part.split()
            if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
                out += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return out


def dockerignore(root):
    try:
        with open(os.path.join(root, ".dockerignore")) as f:
            return [l.strip() for l in f if l.strip() and not l.startswith("#")]
    except FileNotFoundError:
        return []


def ignored(path, patterns):
    path = os.path.normpath(path)
    parts = path.split(os.sep)
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat.lstrip("!").rstrip("/")
        for i in range(1, len(parts) + 1):  # a pattern that matches a parent directory leaves out its files
            if fnmatch.fnmatch(os.sep.join(parts[:i]), p) or (p.startswith("**/") and
                                                              fnmatch.fnmatch(parts[i - 1], p[3:])):
                if not neg:
                    return True
    return False


# ---- this machine's packages -----------------------------------------------------------------------------
class Packages:
    """The dpkg database of this machine: owners of files, dependency closures, installed sizes."""

    def __init__(self):
        self.stanza = {}
        with open("/var/lib/dpkg/status") as f:
            for s in f.read().split("\n\n"):
                fields = dict(re.findall(r"^([\w-]+): (.*)$", s, re.M))
                if fields.get("Package") and fields.get("Status", "").endswith(" installed"):
                    self.stanza[fields["Package"]] = fields
        self.provides = {}
        for p, f in self.stanza.items():
            for x in f.get("Provides", "").split(","):
                if x.strip():
                    self.provides.setdefault(x.strip().split()[0], p)

    def installed(self, p):
        return p in self.stanza

    def deps(self, p):
        out = []
        for field in ("Pre-Depends", "Depends"):
            for alt in self.stanza[p].get(field, "").split(","):
                for a in alt.split("|"):  # the first alternative installed here (apt's choice, usually)
                    n = a.strip().split(" ")[0].split(":")[0]
                    if n in self.stanza:
                        out.append(n)
                        break
                    if n in self.provides:
                        out.append(self.provides[n])
                        break
        return out

    def closure(self, pkgs):
        seen, todo = set(), list(pkgs)
        while todo:
            p = todo.pop()
            if p in seen or p not in self.stanza:
                continue
            seen.add(p)
            todo += self.deps(p)
        return seen

    def base(self):
        roots = [p for p, f in self.stanza.items()
                 if f.get("Essential") == "yes" or f.get("Priority") == "required"] + ["apt"]
        return self.closure(roots)

    def size_kib(self, pkgs):
        return sum(int(self.stanza[p].get("Installed-Size", "0")) for p in pkgs if p in self.stanza)

    @staticmethod
    def owners(paths):
        """{path: package} for the paths dpkg knows (tried as given, resolved, and /lib <-> /usr/lib)."""
        cands = {}
        for p in paths:
            real = os.path.realpath(p)
            forms = {p, real}
            for f in list(forms):
                if f.startswith("/usr/lib/"):
                    forms.add(f[4:])
                elif f.startswith("/lib/"):
                    forms.add("/usr" + f)
            cands[p] = forms
        everything = sorted({f for forms in cands.values() for f in forms})
        r = subprocess.run(["dpkg-query", "-S"] + everything, capture_output=True, text=True)
        owner = {}
        for line in r.stdout.splitlines():
            pkgs, _, path = line.partition(": ")
            if path and "diversion" not in pkgs:
                owner[path] = pkgs.split(",")[0].split(":")[0].strip()
        return {p: next((owner[f] for f in forms if f in owner), None) for p, forms in cands.items()}


def needed(binary):
    r = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", r.stdout)


def resolved(binary):
    """{soname: path} as ldd resolves them (the dynamic loader itself left out)."""
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^\s*(\S+) => (\S+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


# ---- the checks ------------------------------------------------------------------------------------------
def check_build_stage(root, stage, errors):
    """Runs the stage's script calls in dry mode; returns (install prefix, dev.sh release's printed commands)."""
    prefix, release_out = None, ""
    patterns = dockerignore(root)
    for kw, text in stage["instructions"]:
        if kw == "COPY":
            check_copy(root, text, patterns, None, errors)
        if kw != "RUN":
            continue
        text = substitute(text, stage["args"])
        m = SCRIPT_RUN.match(text)
        if not m:
            errors.append("build stage: RUN `%s` is not a call of a repository script" % text)
            continue
        env = dict(os.environ, DRY_RUN="1")
        env.update(dict(a.split("=", 1) for a in m.group(1).split()))
        script, args = m.group(2), m.group(3).split()
        if not os.path.isfile(os.path.join(root, script)):
            errors.append("build stage: %s does not exist" % script)
            continue
        r = subprocess.run(["bash", script] + args, cwd=root, env=env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            errors.append("build stage: `DRY_RUN=1 %s` fails: %s" % (text, (r.stdout + r.stderr).strip()))
            continue
        if script == "scripts/setup.sh":
            check_setup_list(r.stdout, errors)
        elif script == "scripts/dev.sh" and args[:1] == ["release"]:
            release_out = r.stdout
            prefix = args[1] if len(args) > 1 else None
            check_release_commands(r.stdout, prefix, errors)
    if prefix is None:
        errors.append("build stage: no `bash scripts/dev.sh release PREFIX`")
    return prefix, release_out


def check_setup_list(out, errors):
    pkgs = [l for l in out.split() if re.match(r"^[a-z0-9][a-z0-9+.-]+$", l)]
    if not pkgs:
        errors.append("build stage: setup.sh listed no packages")
        return
    db = Packages()
    missing = [p for p in pkgs if not db.installed(p)]
    if missing:
        r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + missing, capture_output=True, text=True)
        known = set(re.findall(r"^Package: (\S+)", r.stdout, re.M))
        for p in missing:
            if p not in known:
                errors.append("build stage: setup.sh's package %s is neither installed here nor known to apt" % p)


def check_release_commands(out, prefix, errors):
    lines = out.splitlines()
    cmake = [l for l in lines if l.startswith("cmake -S")]
    ninja = [l for l in lines if l.startswith("ninja ")]
    install = [l for l in lines if l.startswith("cmake --install")]
    if (not cmake or "-DCMAKE_BUILD_TYPE=%s" % TESTED_BUILD_TYPE not in cmake[0] or
            "-DINFERD_BUILD_TESTS=OFF" not in cmake[0]):
        errors.append("build stage: dev.sh release does not configure %s (what the tests and benchmarks build) "
                      "without tests: %s" % (TESTED_BUILD_TYPE, cmake))
    if not ninja or ninja[0].split()[-1] != "inferd":
        errors.append("build stage: dev.sh release does not build the inferd target alone: %s" % ninja)
    if not install or "--prefix %s" % prefix not in install[0]:
        errors.append("build stage: dev.sh release does not install under %s: %s" % (prefix, install))


def check_copy(root, text, patterns, stages_by_prefix, errors):
    words = shlex.split(text)
    flags = [w for w in words if w.startswith("--")]
    srcs = [w for w in words if not w.startswith("--")][:-1]
    frm = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
    if frm is None:
        for s in srcs:
            if not glob.glob(os.path.join(root, s)):
                errors.append("COPY %s: %s does not exist in the build context" % (text, s))
            elif s not in (".", "./") and ignored(s, patterns):
                errors.append("COPY %s: .dockerignore leaves %s out" % (text, s))
        return None
    if stages_by_prefix is not None:
        if frm not in stages_by_prefix:
            errors.append("COPY %s: no stage %s before it" % (text, frm))
            return None
        prefix = stages_by_prefix[frm]
        for s in srcs:
            if not prefix or not (s.rstrip("/") + "/").startswith(prefix.rstrip("/") + "/"):
                errors.append("COPY %s: %s is not under %s, where stage %s installs" % (text, s, prefix, frm))
    return frm, srcs


def copied_files(srcs, prefix, binary, ort):
    """The local files that stand for what a COPY --from=build takes: {image-side name: local path}. A copy of
    the prefix or of its lib/ takes the backend plugins (beside the local binary) and ONNX Runtime (`ort`)."""
    bindir = os.path.dirname(os.path.abspath(binary))
    out = {}
    for s in srcs:
        rel = os.path.relpath(s.rstrip("/") or "/", prefix)
        if rel in (".", "bin", "bin/inferd"):
            out["bin/inferd"] = binary
        if rel in (".", "lib", "lib/inferd"):
            for so in sorted(glob.glob(os.path.join(bindir, "libinferd_backend_*.so"))):
                out["lib/inferd/" + os.path.basename(so)] = so
        if rel in (".", "lib") and ort:
            out["lib/" + os.path.basename(ort)] = ort
    return out


def onnxruntime_library(binary):
    """The ONNX Runtime library the local build linked its plugin against (CMakeCache.txt), or None."""
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(binary)), "CMakeCache.txt")) as f:
            m = re.search(r"^ONNXRUNTIME_LIBRARY:FILEPATH=(.+)$", f.read(), re.M)
    except FileNotFoundError:
        return None
    return os.path.realpath(m.group(1)) if m and os.path.exists(m.group(1)) else None


def check_runtime_stage(stages, stage, prefix, release_out, binary, db, base, errors, sizes):
    name = stage["name"]
    chain = stage_chain(stages, stage)
    if chain[0]["base"] not in BOOKWORM:
        errors.append("%s: built on %s, not Debian bookworm" % (name, chain[0]["base"]))
    explicit = [p for s in chain for p in apt_packages(s)]
    for p in explicit:
        if not db.installed(p):
            errors.append("%s: package %s is not installed here, so its libraries cannot be checked" % (name, p))
    closure = db.closure(explicit) | base
    # What dev.sh release installs into PREFIX/lib besides inferd's own files (ONNX Runtime: no Debian package).
    prefix_libs = set(re.findall(r"/lib/(lib[\w.+-]+\.so[\w.]*)\s*$", release_out, re.M))
    ort = onnxruntime_library(binary) if any("onnxruntime" in l for l in prefix_libs) else None
    files = {}
    for s in chain:
        for kw, text in s["instructions"]:
            if kw == "COPY" and "--from=" in text:
                got = check_copy(None, text, [], {"build": prefix}, errors)
                if got:
                    files.update(copied_files(got[1], prefix, binary, ort))
    if "bin/inferd" not in files:
        errors.append("%s: copies no bin/inferd from the build stage" % name)
    shipped = {os.path.basename(k) for k in files if k.startswith("lib/") and not k.startswith("lib/inferd/")}
    used = set()  # packages owning a library some copied binary loads
    for image_name, path in files.items():
        if not os.path.exists(path):
            errors.append("%s: %s (for %s) is not built here" % (name, path, image_name))
            continue
        if image_name in ("lib/" + x for x in shipped):
            continue  # a library shipped from the prefix, not a program
        direct = needed(path)
        libs = resolved(path)
        owner = Packages.owners(sorted(set(libs.values())))
        absent = {}  # package -> sonames: libraries the binary loads through others, from packages not installed
        used.update(p for p in owner.values() if p)
        for so, lib in sorted(libs.items()):
            pkg = owner.get(lib)
            if pkg is None:
                if so not in shipped:
                    errors.append("%s: %s needs %s (%s), which no package provides and the stage does not copy "
                                  "from the build stage's prefix" % (name, image_name, so, lib))
            elif so in direct and pkg not in explicit and pkg not in base:
                errors.append("%s: %s needs %s directly: install %s by name" % (name, image_name, so, pkg))
            elif pkg not in closure:
                absent.setdefault(pkg, []).append(so)
        if absent:
            errors.append("%s: %s loads libraries of %d packages the stage does not install: %s" %
                          (name, image_name, len(absent),
                           ", ".join("%s (%s)" % (p, " ".join(v)) for p, v in sorted(absent.items()))))
    # Only runtime libraries: a package named by apt-get that no copied binary loads must be a Python module
    # the embedded CPython imports (python3-*).
    for p in explicit:
        if files and p not in used and not p.startswith("python3-"):
            errors.append("%s: installs %s, which no copied binary loads" % (name, p))
    if sizes is not None:
        files_kib = 0
        with tempfile.TemporaryDirectory() as tmp:
            for image_name, path in files.items():
                out = os.path.join(tmp, os.path.basename(image_name))
                subprocess.run(["objcopy", "--strip-debug", path, out], capture_output=True)
                files_kib += os.path.getsize(out if os.path.exists(out) else path) // 1024
        sizes[name] = {"base_kib": db.size_kib(base), "packages_kib": db.size_kib(closure - base),
                       "packages": len(closure - base), "files_kib": files_kib}


def check_runtime_settings(stage, errors):
    name = stage["name"]
    users = [t for k, t in stage["instructions"] if k == "USER"]
    if not users or not re.match(r"^[1-9]\d*(:\d+)?$", users[-1]):
        errors.append("%s: USER must be a numeric non-root uid, got %s" % (name, users))
    entry = [t for k, t in stage["instructions"] if k == "ENTRYPOINT"]
    if not entry or json.loads(entry[-1]) != ["inferd"]:
        errors.append("%s: ENTRYPOINT must be [\"inferd\"], got %s" % (name, entry))
    if name == "model-server" and not any(k == "RUN" and "/mnt/models" in t for k, t in stage["instructions"]):
        errors.append("model-server: /mnt/models is not created")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", nargs="?", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--binary", default=None, help="the inferd binary (default: ROOT/build/inferd)")
    ap.add_argument("--dockerfile", default=None, help="default: ROOT/docker/Dockerfile")
    ap.add_argument("--size", action="store_true", help="print the estimated size of each runtime image")
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    binary = a.binary or os.path.join(root, "build", "inferd")
    stages = parse_dockerfile(a.dockerfile or os.path.join(root, "docker", "Dockerfile"))
    errors = []
    names = [s["name"] for s in stages]
    for want in STAGES:
        if want not in names:
            errors.append("no stage %s" % want)
    if names and names[-1] != "model-server":
        errors.append("the last stage (the default target) must be model-server, not %s" % names[-1])
    for s in stages:
        if s["base"] not in BOOKWORM and s["base"] not in names[:names.index(s["name"])]:
            errors.append("%s: FROM %s is neither Debian bookworm nor an earlier stage" % (s["name"], s["base"]))
    sizes = {} if a.size else None
    if "build" in names:
        prefix, release_out = check_build_stage(root, stages[names.index("build")], errors)
        db = Packages()
        base = db.base()
        for s in stages:
            if s["name"] in ("operator", "model-server"):
                check_runtime_stage(stages, s, prefix, release_out, binary, db, base, errors, sizes)
                check_runtime_settings(s, errors)
    for e in errors:
        print(e)
    if sizes:
        for name, z in sizes.items():
            total = z["base_kib"] + z["packages_kib"] + z["files_kib"]
            print("estimated size of %s: %.0f MB = base %.0f MB + %d packages %.0f MB + inferd's files %.0f MB" %
                  (name, total / 1024, z["base_kib"] / 1024, z["packages"], z["packages_kib"] / 1024,
                   z["files_kib"] / 1024))
    print("check_dockerfile: %s" % ("%d problems" % len(errors) if errors else "all checks pass"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
