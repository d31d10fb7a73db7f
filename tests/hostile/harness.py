"""Shared parts of the hostile suite (tests/hostile/*_test.py, issue 12): process probes (/proc), the trickle
client whose every outcome is kept, the checks run after every attack class, raw-socket attack helpers and the
per-class report.

The suite replays the attack classes of issue 12 against long-lived real processes, one class after another,
and after each class checks that the processes are the same ones (unless the class killed them on purpose),
that every service still answers a correct prediction (V1 and V2 over REST and V2 over gRPC), that the peak RSS
(VmHWM) of every process stays under a stated bound, that no file descriptor is left open once the attack's
connections are closed, and at the end that every failed trickle request was in flight at an instant when a
class killed the process that held it.

Scale: INFERD_HOSTILE_SCALE (default 1) multiplies connections, bodies, rounds and kills (bench/hostile_probe.sh
runs the suite at a higher scale). INFERD_HOSTILE_REPORT=FILE appends one JSON line per class (class, result,
detail, seconds) for that script's table.
"""

import contextlib
import json
import os
import resource
import signal
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "control"))
sys.path.insert(0, os.path.join(TESTS, "net"))
import serve_test as st  # noqa: E402  (Serve, INFERD_BIN, MODELS, gRPC stub generation)
import listeners_test as lt  # noqa: E402  (head, read_response, seconds_until_closed)

SCALE = max(1.0, float(os.environ.get("INFERD_HOSTILE_SCALE", "1")))
REPORT = os.environ.get("INFERD_HOSTILE_REPORT", "")
TICKS = os.sysconf("SC_CLK_TCK")
DEEP = 100000
TOO_DEEP = "nested deeper than 64 levels"

# Bounds on peak RSS (VmHWM, MiB). Measured on the 2-core machine (scale 1 / scale 4): serve 35-70 MB idle,
# 290-300 MB peak once its gateway held its body budget (256 MiB) of 60 MB bodies; an xgboost replica 33-40 MB
# idle, 330-350 MB peak at its budget; a scikit-learn replica 130 MB (the embedded CPython); the bare model
# server 460 / 575 MB peak (its REST budget plus gRPC messages of up to 8 MiB each, which no budget counts,
# and libtorch for the config.pbtxt probe). The bounds are those plus a wide margin: what they catch is growth
# with the number of requests (the 611 MB and 803 MB for 8 bodies, which grew without end for more).
SERVE_RSS_MB = 700
REPLICA_RSS_MB = 700
# A listener's fd count may differ from its count before a class by a few: pooled upstream connections (the
# gateway to its replicas, opened on demand and kept), gRPC's own sockets. A leak of the attack's connections
# is tens to thousands.
FD_SLACK = 8


def scaled(n):
    return int(round(n * SCALE))


# ---- answers ---------------------------------------------------------------------------------------------
def flat(x):
    return [z for y in x for z in flat(y)] if isinstance(x, list) else [x]


def same(got, want):
    """Whether two (nested) lists of numbers agree to 1e-5 (V1 predictions, V2 or gRPC outputs, flattened)."""
    got, want = flat(got), flat(want)
    return len(got) == len(want) and all(abs(float(a) - float(b)) <= 1e-5 for a, b in zip(got, want))


# ---- processes -------------------------------------------------------------------------------------------
def status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def rss_mb(pid):
    return status_kb(pid, "VmRSS") // 1024


def peak_mb(pid):
    return status_kb(pid, "VmHWM") // 1024


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except (FileNotFoundError, ProcessLookupError):
        return -1


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime, all threads


def alive(pid):
    return st.alive(pid)


def all_threads_gone(pid):
    """Whether every thread of pid has exited: it was reaped, or only its zombie leader is left. (The leader of a
    killed multi-threaded process shows as a zombie while other threads still hold its sockets open.)"""
    try:
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return True
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return fields.get("State", "").strip().startswith("Z") and fields.get("Threads", "").strip() == "1"


def sigkill(pid, reap=None):
    """SIGKILLs pid; returns (instant the signal was sent, instant every thread of it was seen gone, so that its
    sockets are closed). reap: a subprocess.Popen to wait on when pid is our child."""
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    if reap is not None:
        reap.wait(30)
    else:
        deadline = time.time() + 30
        while not all_threads_gone(pid) and time.time() < deadline:
            time.sleep(0.0005)
    return t0, time.monotonic()


def in_window(sent, done, windows):
    """Whether a request sent..done was in flight during one of windows [(start, end)]."""
    return any(sent <= end and done >= start for start, end in windows)


def wait_fds(pid, limit, timeout=15.0):
    """Waits until pid has at most `limit` open fds (the server closes an attack's connections once it notices
    them gone, and discards what an error answer left unread for up to 2 s); returns the last count."""
    deadline = time.time() + timeout
    n = open_fds(pid)
    while n > limit and time.time() < deadline:
        time.sleep(0.2)
        n = open_fds(pid)
    return n


def raise_nofile():
    """The test process opens thousands of sockets: its soft open-file limit up to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- sockets ---------------------------------------------------------------------------------------------
class Sockets:
    """Client sockets of one attack; closed together (close_all) before the fd counts are compared."""

    def __init__(self):
        self.socks = []
        self.lock = threading.Lock()

    def connect(self, port, timeout=10.0):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            self.socks.append(s)
        return s

    def close_all(self):
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()


head = lt.head
read_response = lt.read_response
seconds_until_closed = lt.seconds_until_closed


def closed_within(socks, limit, trickle=None):
    """How many of `socks` the server closes within `limit` seconds (all watched at once; `trickle`: bytes sent
    to each every 0.5 s meanwhile, a slowloris head that never completes)."""
    open_ = list(socks)
    closed = 0
    deadline = time.time() + limit
    last_send = 0.0
    for s in open_:
        s.setblocking(False)
    while open_ and time.time() < deadline:
        if trickle and time.time() - last_send > 0.5:
            last_send = time.time()
            for s in open_:
                with contextlib.suppress(OSError):
                    s.send(trickle)
        still = []
        for s in open_:
            try:
                d = s.recv(65536)
                if d == b"":
                    closed += 1
                    continue
            except BlockingIOError:
                pass
            except OSError:  # reset
                closed += 1
                continue
            still.append(s)
        open_ = still
        time.sleep(0.05)
    return closed


def send_big(port, path, length, headers=(), chunk=1 << 20, body_byte=b"x", timeout=60):
    """Sends a head declaring `length` bytes and then the body; returns (status, bytes of the body sent when the
    answer arrived or the server stopped reading, error). The answer is read as soon as it comes (a server that
    refuses a body answers before it is sent)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(head("POST", path, length, headers))
        piece = body_byte * chunk
        sent = 0
        s.setblocking(False)
        buf = b""
        while sent < length:
            try:
                d = s.recv(65536)
                if d == b"":
                    break
                buf += d
                if b"\r\n\r\n" in buf:
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            try:
                n = s.send(piece[:min(chunk, length - sent)])
                sent += n
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                break
        s.setblocking(True)
        s.settimeout(timeout)
        sent_when_answered = sent
        try:
            if b"\r\n\r\n" not in buf:
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        break
                    buf += d
            status = int(buf.split(b" ", 2)[1]) if buf.startswith(b"HTTP/1.") else None
        except OSError as e:
            return None, sent_when_answered, type(e).__name__
        return status, sent_when_answered, None
    finally:
        s.close()


def answer_before_body(port, path, length, headers=(), sent=64 << 10, wait=5.0):
    """Sends a head declaring `length` body bytes and only the first `sent` of them, then waits up to `wait`
    seconds: the status of an answer that came meanwhile (the server refused the request from its head), or a
    string saying what happened instead."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(head("POST", path, length, headers) + b"x" * sent)
        s.settimeout(wait)
        try:
            return read_response(s)[0]
        except socket.timeout:
            return "no answer within %.0f s with %d of %d body bytes sent" % (wait, sent, length)
        except (ConnectionError, OSError) as e:
            return "closed without an answer (%s)" % type(e).__name__
    finally:
        s.close()


def parallel(fn, args_list, timeout=180):
    """Runs fn(*args) for each args on its own thread; returns the results in order (an exception's name for
    one that raised)."""
    results = [None] * len(args_list)

    def run(i, args):
        try:
            results[i] = fn(*args)
        except Exception as e:  # noqa: BLE001  (reported, not hidden: the caller asserts on results)
            results[i] = "%s: %s" % (type(e).__name__, e)

    threads = [threading.Thread(target=run, args=(i, a), daemon=True) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results


def nested(depth, inner=""):
    return "[" * depth + inner + "]" * depth


def deep_groups_message(model_name, depth=DEEP):
    """A serialized ModelInferRequest: field 1 (model_name), then an unknown field 99 as `depth` nested
    protobuf groups (start-group tags, then as many end-group tags)."""
    name = model_name.encode()
    start, end = bytes([0x9b, 0x06]), bytes([0x9c, 0x06])  # (99 << 3) | 3 and | 4, as varints
    return b"\x0a" + bytes([len(name)]) + name + start * depth + end * depth


# ---- the trickle client ----------------------------------------------------------------------------------
class Trickle:
    """A steady trickle of predictions for the whole suite: one thread per probe, each sending one request at a
    time, `interval` apart, and keeping every outcome (name, sent, done, ok, detail). A probe is fn() that
    raises or returns an error string on failure (a wrong answer is a failure too).

    Failures are judged at the end (failures()): one is excused only when it was in flight at an instant a class
    recorded with killed(): the SIGKILL of the process that held it. A probe has at most one request in flight,
    so at most one failure per probe per kill can be excused. pause() stops new requests from starting (what is
    in flight goes on); resume() lets them start again."""

    def __init__(self, probes, interval=0.05):
        self.probes = probes
        self.interval = interval
        self.lock = threading.Lock()
        self.outcomes = []
        self.kills = []  # (class, (start, end), probe names whose in-flight request may fail)
        self.stop_flag = threading.Event()
        self.go = threading.Event()
        self.go.set()
        self.threads = [threading.Thread(target=self._run, args=(name, fn), daemon=True) for name, fn in probes]
        for t in self.threads:
            t.start()

    def _run(self, name, fn):
        while not self.stop_flag.is_set():
            self.go.wait()
            if self.stop_flag.is_set():
                break
            t0 = time.monotonic()
            try:
                err = fn()
            except Exception as e:  # noqa: BLE001  (every failure is an outcome to judge)
                err = "%s: %s" % (type(e).__name__, str(e)[:200])
            with self.lock:
                self.outcomes.append((name, t0, time.monotonic(), err is None, err))
            time.sleep(self.interval)

    def pause(self):
        self.go.clear()

    def resume(self):
        self.go.set()

    def killed(self, cls, probe_names, window):
        """A class killed a process that the probes named may have had a request in flight on: any of their
        requests in flight during window = (signal sent, process gone) may fail."""
        with self.lock:
            self.kills.append((cls, window, set(probe_names)))

    def count(self):
        with self.lock:
            return len(self.outcomes)

    def stop(self):
        self.stop_flag.set()
        self.go.set()
        for t in self.threads:
            t.join(60)

    def failures(self):
        """(excused per class {class: n}, unexcused [(name, detail, sent, done)])."""
        with self.lock:
            outcomes, kills = list(self.outcomes), list(self.kills)
        excused, unexcused = {}, []
        for name, t0, t1, ok, err in outcomes:
            if ok:
                continue
            why = next((cls for cls, (k0, k1), names in kills if name in names and t0 <= k1 and t1 >= k0), None)
            if why is None:
                unexcused.append((name, err, t0, t1))
            else:
                excused[why] = excused.get(why, 0) + 1
        return excused, unexcused

    def failures_between(self, t0, t1):
        with self.lock:
            return [(n, e) for n, a, b, ok, e in self.outcomes if not ok and b >= t0 and a <= t1]


# ---- the report ------------------------------------------------------------------------------------------
class Report:
    """One line per attack class: printed, and appended to INFERD_HOSTILE_REPORT as JSON when set."""

    def __init__(self, suite):
        self.suite = suite

    def add(self, cls, result, detail, seconds):
        line = {"suite": self.suite, "class": cls, "result": result, "detail": detail, "seconds": round(seconds, 1),
                "scale": SCALE}
        sys.stderr.write("\nHOSTILE %s | %s | %s | %s | %.1f s\n" % (self.suite, cls, result, detail, seconds))
        if REPORT:
            with open(REPORT, "a") as f:
                f.write(json.dumps(line) + "\n")


# ---- after every class -----------------------------------------------------------------------------------
class Snapshot:
    """Pids, fd counts of every process of a deployment, taken before a class."""

    def __init__(self, procs):
        self.procs = dict(procs)  # role -> pid
        self.fds = {role: open_fds(pid) for role, pid in self.procs.items()}


def check_processes(tc, before, now, killed_roles=(), pooled=None):
    """tc: a TestCase. before/now: Snapshots (now's pids only matter). Every role keeps its pid unless it is in
    killed_roles; every process is alive; VmHWM under its bound; fds back to within FD_SLACK of before, plus
    pooled[role]: the upstream connections a class may legitimately have added to a pool (the gateway keeps
    one idle connection per request it had in flight at once to a replica, up to 64)."""
    for role, pid in now.procs.items():
        tc.assertTrue(alive(pid), "%s (pid %d) is gone" % (role, pid))
        if role in before.procs and role not in killed_roles:
            tc.assertEqual(pid, before.procs[role], "%s was replaced (pid %d -> %d)" % (role, before.procs[role], pid))
        bound = SERVE_RSS_MB if role in ("serve", "model-server") else REPLICA_RSS_MB
        tc.assertLessEqual(peak_mb(pid), bound, "%s peak RSS %d MB over its bound %d MB" % (role, peak_mb(pid), bound))
    fds = {}
    for role, pid in now.procs.items():
        if role in before.procs and role not in killed_roles and before.procs[role] == pid:
            limit = before.fds[role] + FD_SLACK + (pooled or {}).get(role, 0)
            n = wait_fds(pid, limit)
            tc.assertLessEqual(n, limit, "%s (pid %d) holds %d fds, %d before the class: a leak" %
                               (role, pid, n, before.fds[role]))
            fds[role] = n - before.fds[role]
    return fds


def memory_line(procs):
    return ", ".join("%s %d/%d MB" % (role, rss_mb(pid), peak_mb(pid)) for role, pid in sorted(procs.items()))


class Attack:
    """One attack class, as `with Attack(tc, name) as a:`. tc is the TestCase holding the deployment: procs()
    ({role: pid}), check_predictions(), and the attributes trickle (Trickle), report (Report) and sockets
    (Sockets). Before: a Snapshot. After, unless the body failed: the attack's sockets closed, then
    check_processes (a.killed: roles the class killed on purpose), every prediction, and no trickle failure
    since the class began that a kill does not excuse. a.detail: the report line's text."""

    def __init__(self, tc, name):
        self.tc, self.name = tc, name
        self.detail = ""
        self.killed = ()
        self.pooled = {}  # role -> upstream connections the class may add to a pool (check_processes)

    def __enter__(self):
        self.before = Snapshot(self.tc.procs())
        self.t0 = time.monotonic()
        return self

    def __exit__(self, exc_type, exc, tb):
        tc = self.tc
        result = "FAILED"
        try:
            tc.sockets.close_all()
            if exc_type is None:
                now = Snapshot(tc.procs())
                check_processes(tc, self.before, now, self.killed, self.pooled)
                tc.check_predictions()
                mine = [f for f in tc.trickle.failures()[1] if f[3] >= self.t0]
                tc.assertEqual(mine, [], "trickle requests failed during this class, none in flight on a process a "
                                         "class killed (kills: %s)" % tc.trickle.kills)
                result = "ok"
        finally:
            detail = self.detail or (str(exc)[:300] if exc else "")
            tc.report.add(self.name, result, detail + "; RSS now/peak: " + memory_line(tc.procs()),
                          time.monotonic() - self.t0)
        return False
