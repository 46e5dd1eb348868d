"""Records the files a Python command opens, through an audit hook (PEP 578).

`gitgov run` copies this file as ``sitecustomize.py`` into a folder that it
puts first on the command's PYTHONPATH, so every Python process of the run
(the command and the Python processes it starts) loads it before its own
code. It must therefore use the standard library only: the command's
interpreter may be another Python than gitgov's.

Each process appends one JSON line per file it opens inside the repository
(``{"p": path, "w": 0|1}``) to ``$GITGOV_AUDIT_DIR/<pid>.jsonl`` at once, so
the record survives ``os._exit`` and a killed process. Source files are
recorded too (an uncommitted script must be kept to reproduce the run);
compiled and installed code (.pyc, extension modules, site-packages) is not.
The original ``sitecustomize`` of the interpreter, if any, still runs.
"""
import os
import sys

_SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".pth", ".dylib")
_SKIP_PARTS = ("/.git/", "/.gitgov/", "/__pycache__/", "/site-packages/", "/dist-packages/")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class _Recorder:
    def __init__(self, root, out_dir):
        self.root = root.rstrip(os.sep) + os.sep
        self.out_path = os.path.join(out_dir, "%d.jsonl" % os.getpid())
        self.seen = set()
        self.fd = None
        self.busy = False
        self.pid = os.getpid()

    def __call__(self, event, args):
        if self.busy:
            return
        if event == "open":
            path, mode, flags = args[0], args[1], args[2]
            if isinstance(path, (str, bytes)):
                self._note(path, _writes(mode, flags))
        elif event in ("os.rename", "os.replace", "shutil.copyfile", "shutil.copytree"):
            self._note(args[1], True)

    def _note(self, path, write):
        self.busy = True
        try:
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            path = os.fspath(path)
            if not os.path.isabs(path):
                path = os.path.join(os.getcwd(), path)
            path = os.path.normpath(path)
            key = (path, write)
            if key in self.seen or not path.startswith(self.root):
                return
            if path.endswith(_SKIP_SUFFIXES) or any(p in path for p in _SKIP_PARTS):
                return
            self.seen.add(key)
            self._write('{"p": %s, "w": %d}\n' % (_quote(path[len(self.root):]), int(write)))
        except Exception:  # noqa: BLE001 - recording must never break the command
            pass
        finally:
            self.busy = False

    def _write(self, line):
        if self.fd is None or self.pid != os.getpid():  # a forked child gets its own file
            self.pid = os.getpid()
            self.out_path = os.path.join(os.path.dirname(self.out_path), "%d.jsonl" % self.pid)
            self.fd = os.open(self.out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(self.fd, line.encode("utf-8", "surrogateescape"))


def _writes(mode, flags):
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return bool(isinstance(flags, int) and flags & _WRITE_FLAGS)


def _quote(text):
    import json

    return json.dumps(text)


def _chain_original():
    """Run the sitecustomize this file shadows, if the interpreter has one."""
    here = os.path.dirname(os.path.abspath(__file__))
    mine = sys.modules.get("sitecustomize")
    saved = list(sys.path)
    try:
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
        del sys.modules["sitecustomize"]
        # __import__ finds it as importlib.import_module would, without importing
        # importlib (and warnings) into every Python process of a run (~0.6 ms each)
        __import__("sitecustomize")
    except ImportError:
        pass
    except Exception as exc:  # noqa: BLE001 - report like Python does, and go on
        sys.stderr.write("Error in sitecustomize; set PYTHONVERBOSE for traceback:\n%r\n" % exc)
    finally:
        sys.path[:] = saved
        if mine is not None:
            sys.modules["sitecustomize"] = mine


def wait_for_start():
    """Hold this process until `gitgov run` has recorded the run's start.

    For a command that runs its own interpreter, gitgov starts the process before it
    records the run, so that the interpreter starts up while gitgov does (see
    run_early.py); none of the command's code may run before that record exists.
    gitgov writes one byte to the pipe when it may. The end of the pipe instead (the
    run was refused or failed to start, or gitgov was killed) ends this process
    before the command's code, or the interpreter's own sitecustomize, ran.
    """
    fd = os.environ.pop("GITGOV_HOLD_FD", None)  # the processes it starts must not wait
    if fd is None:
        return
    try:
        go = os.read(int(fd), 1)
        os.close(int(fd))
    except KeyboardInterrupt:  # Ctrl-C reached it while it waited
        os._exit(130)
    except (OSError, ValueError):
        go = b""
    if go != b"g":
        os._exit(125)  # as env and timeout say: the command itself never ran


def install():
    """Start recording if this process belongs to a `gitgov run` (the env says where)."""
    root, out_dir = os.environ.get("GITGOV_AUDIT_ROOT"), os.environ.get("GITGOV_AUDIT_DIR")
    if root and out_dir and hasattr(sys, "addaudithook"):
        sys.addaudithook(_Recorder(root, out_dir))


def read_records(out_dir):
    """(read, written) relative paths that every process of a run recorded."""
    import json

    read, written = set(), set()
    try:
        names = os.listdir(out_dir)
    except FileNotFoundError:
        return read, written
    for name in names:
        with open(os.path.join(out_dir, name), encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a killed process
                (written if rec.get("w") else read).add(rec["p"].replace(os.sep, "/"))
    return read, written


if __name__ == "sitecustomize":
    wait_for_start()
    install()
    _chain_original()
