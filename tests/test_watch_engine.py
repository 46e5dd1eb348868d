"""The watch engine in this process: real watchdog, real files, real ledger and plugins.

Each test runs the engine on a thread (as `gitgov watch run` runs it on the main
one) and asserts on what the ledger holds afterwards.
"""
from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import git, write
from gitgov.core.commands.setup_cmds import init_repo
from gitgov.core.hookspecs import hookimpl
from gitgov.core.session import Session
from gitgov.core.watch import engine as engine_mod
from gitgov.core.watch.engine import Engine
from gitgov.core.watch.hashing import Unreadable

POLICY = """\
[datasets.raw]
paths = ["data/raw/*.csv"]

[datasets.deep]
paths = ["data/deep/**/*.csv"]

[watch]
debounce_ms = {debounce}
rescan_seconds = 3600

[plugins]
enable = ["secrets", "alerts"]  # data checks cost ~40 ms a file; these tests time the engine
"""


def make_repo(tmp_path: Path, debounce: int = 50) -> Path:
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    write(root, "gitgov.toml", POLICY.format(debounce=debounce))
    (root / "data" / "raw").mkdir(parents=True)
    init_repo(root)
    return root


@pytest.fixture
def wrepo(tmp_path) -> Path:
    return make_repo(tmp_path)


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def running(root: Path, *plugins, cls=Engine):
    log = logging.getLogger(f"test.watch.{time.monotonic_ns()}")
    lines = Lines()
    log.addHandler(lines)
    log.setLevel(logging.DEBUG)
    extra = [(f"probe{i}", p) for i, p in enumerate(plugins)]
    eng = cls(root, log, session_factory=lambda r: Session.open(r, extra_plugins=extra))
    eng.lines = lines
    thread = threading.Thread(target=eng.serve, daemon=True)
    thread.start()
    assert eng.ready.wait(30), "the engine did not finish its first scan"
    try:
        yield eng
    finally:
        eng.stop()
        thread.join(30)
        assert not thread.is_alive()


def rows(root: Path, sql: str, args=()) -> list[tuple]:
    with sqlite3.connect(root / ".gitgov" / "ledger.db") as db:
        return db.execute(sql, args).fetchall()


def observed(root: Path, change: str = "added") -> list[tuple]:
    return rows(root, "SELECT path, sha256 FROM dataset_versions WHERE stage = 'observed' AND change = ?"
                " ORDER BY seq", (change,))


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- recording -------------------------------------------------------------------------

def test_new_changed_and_deleted_files_are_recorded_with_their_sha256(wrepo):
    with running(wrepo):
        write(wrepo, "data/raw/a.csv", "x\n1\n")
        write(wrepo, "data/raw/b.csv", "x\n2\n")
        write(wrepo, "data/raw/notes.txt", "not governed\n")
        assert wait_for(lambda: len(observed(wrepo)) == 2)
        write(wrepo, "data/raw/a.csv", "x\n1\n3\n")
        (wrepo / "data/raw/b.csv").unlink()
        assert wait_for(lambda: len(observed(wrepo)) == 3 and len(observed(wrepo, "removed")) == 1)
    assert sorted(observed(wrepo)) == sorted([("data/raw/a.csv", sha(b"x\n1\n")), ("data/raw/b.csv", sha(b"x\n2\n")),
                                              ("data/raw/a.csv", sha(b"x\n1\n3\n"))])
    assert observed(wrepo, "removed") == [("data/raw/b.csv", None)]
    assert rows(wrepo, "SELECT DISTINCT dataset, source FROM dataset_versions JOIN journal USING (seq)") == \
        [("raw", "watcher")]


def test_a_rescan_of_unchanged_files_reads_nothing_and_records_nothing(wrepo, monkeypatch):
    for i in range(20):
        write(wrepo, f"data/raw/f{i}.csv", f"x\n{i}\n")
    with running(wrepo):
        assert wait_for(lambda: len(observed(wrepo)) == 20)
    before = rows(wrepo, "SELECT count(*) FROM journal")

    reads = []
    monkeypatch.setattr(engine_mod, "hash_file", lambda path: reads.append(path))
    with running(wrepo) as eng:
        pass
    assert reads == []
    assert eng.last_rescan["files"] == 20 and eng.last_rescan["changes"] == 0
    assert "rescan (start): 20 file(s), 20 unchanged, 0 to read, 0 removed" in eng.lines.text()
    assert rows(wrepo, "SELECT count(*) FROM journal") == before


def test_a_half_written_file_is_read_once_it_stopped_changing(tmp_path):
    root = make_repo(tmp_path, debounce=400)
    seen = []

    class Probe:
        @hookimpl
        def data_added(self, event, ctx):
            seen.append(ctx.read_data(event))

    with running(root, Probe()):
        with open(root / "data/raw/big.csv", "wb") as f:
            f.write(b"x\n" + b"1\n" * 5000)
            f.flush()
            time.sleep(0.15)  # a writer that pauses, well within the debounce
            f.write(b"2\n" * 5000)
        assert wait_for(lambda: len(observed(root)) == 1)
        time.sleep(0.6)
    full = b"x\n" + b"1\n" * 5000 + b"2\n" * 5000
    assert observed(root) == [("data/raw/big.csv", sha(full))]
    assert seen == [full]


def test_a_burst_of_files_is_recorded_exactly_once_each(wrepo):
    with running(wrepo):
        for i in range(300):
            write(wrepo, f"data/raw/burst{i:04d}.csv", f"x\n{i}\n")
        assert wait_for(lambda: len(observed(wrepo)) >= 300, timeout=60)
        time.sleep(0.3)
    paths = [p for p, _ in observed(wrepo)]
    assert len(paths) == 300 and len(set(paths)) == 300


def test_800_changes_made_while_stopped_are_recorded_by_one_start(wrepo):
    for i in range(300):
        write(wrepo, f"data/raw/base{i:03d}.csv", f"x\n{i}\n")
    with running(wrepo):
        assert wait_for(lambda: len(observed(wrepo)) == 300, timeout=60)
    for i in range(500):
        write(wrepo, f"data/raw/new{i:03d}.csv", f"y\n{i}\n")
    for i in range(200):
        write(wrepo, f"data/raw/base{i:03d}.csv", f"x\n{i}\nchanged\n")
    for i in range(200, 300):
        (wrepo / f"data/raw/base{i:03d}.csv").unlink()
    time.sleep(0.1)  # older than the debounce: the first scan may read them at once
    with running(wrepo):
        assert wait_for(lambda: len(observed(wrepo)) + len(observed(wrepo, "removed")) == 1100, timeout=60)
    assert len(observed(wrepo)) == 1000 and len(observed(wrepo, "removed")) == 100
    with running(wrepo):  # and a second start finds nothing left to do
        pass
    assert len(observed(wrepo)) == 1000 and len(observed(wrepo, "removed")) == 100


def test_a_version_a_commit_hook_recorded_is_not_recorded_again(wrepo):
    write(wrepo, "data/raw/c.csv", "n\n1\n2\n")
    git(wrepo, "add", "gitgov.toml", ".gitignore", "data/raw/c.csv")
    git(wrepo, "commit", "-q", "-m", "data")
    assert rows(wrepo, "SELECT stage FROM dataset_versions WHERE path = 'data/raw/c.csv'") == [("staged",)]
    with running(wrepo) as eng:
        assert eng.recorder.counters.skipped == 1
        write(wrepo, "data/raw/c.csv", "n\n1\n2\n3\n")
        assert wait_for(lambda: len(observed(wrepo)) == 1)
    assert rows(wrepo, "SELECT stage, sha256 FROM dataset_versions WHERE path = 'data/raw/c.csv' ORDER BY seq") == \
        [("staged", None), ("observed", sha(b"n\n1\n2\n3\n"))]


# ---- events are hints: overflow and rescans --------------------------------------------

class DroppingEngine(Engine):
    """Loses file events on demand, as an overflowing inotify queue does."""

    dropping = False

    def hint(self, item):
        if self.dropping and item[0] in ("file", "created", "closed"):
            return
        super().hint(item)


def test_hook_notify_gets_the_overflow_and_the_rescan_misses_nothing(wrepo):
    alerts = []

    class Alerts:
        @hookimpl
        def notify(self, finding, about, ctx):
            alerts.append((finding.code, finding.plugin, about))

    with running(wrepo, Alerts(), cls=DroppingEngine) as eng:
        eng.dropping = True
        for i in range(40):
            write(wrepo, f"data/raw/lost{i}.csv", f"x\n{i}\n")
        time.sleep(0.5)
        assert observed(wrepo) == []  # the events were lost
        eng.dropping = False
        logging.getLogger("watchdog.observers.inotify_c").warning(
            "Inotify queue overflowed; filesystem events were lost")
        assert wait_for(lambda: len(observed(wrepo)) == 40)
    assert "rescan (the watcher's event queue overflowed): 40 file(s)" in eng.lines.text()
    assert ("watch-overflow", "watch", None) in alerts


def test_hook_notify_gets_the_findings_plugins_return_for_observed_files(wrepo):
    from gitgov.core.events import warning

    alerts = []

    class Checks:
        @hookimpl
        def data_added(self, event, ctx):
            return warning("odd-data", f"{event.stage} file looks odd")

        @hookimpl
        def notify(self, finding, about, ctx):
            alerts.append((finding.code, finding.message, about.path, about.stage))

    with running(wrepo, Checks()) as eng:
        write(wrepo, "data/raw/x.csv", "x\n1\n")
        assert wait_for(lambda: len(alerts) == 1)
    assert alerts == [("odd-data", "observed file looks odd", "data/raw/x.csv", "observed")]
    assert "warning data/raw/x.csv: [probe0/odd-data] observed file looks odd" in eng.lines.text()
    assert rows(wrepo, "SELECT severity, code, path FROM findings") == [("warning", "odd-data", "data/raw/x.csv")]


def test_hook_due_events_are_recorded_by_the_daemon(wrepo):
    from gitgov.core.events import RetentionExpired

    calls = []

    class Schedule:
        @hookimpl
        def due_events(self, now, ctx):
            calls.append(now)
            return [RetentionExpired(path="data/raw/old.csv", dataset="raw", expired_on="2020-01-01",
                                     source="scheduler")] if len(calls) == 1 else []

    with running(wrepo, Schedule()):
        pass
    assert calls and calls[0].tzinfo is not None
    assert rows(wrepo, "SELECT kind, subject, source FROM journal WHERE kind = 'retention_expired'") == \
        [("retention_expired", "data/raw/old.csv", "scheduler")]


# ---- bad input -------------------------------------------------------------------------

def test_a_due_events_answer_that_is_not_events_is_an_error_naming_the_plugin(wrepo):
    """The daemon goes on, with the others' events recorded; a hang costs the policy's
    deadline (gitgov.toml's [plugins] timeout), not the retention sweep's."""
    from gitgov.core.events import RetentionExpired

    class Garbage:
        @hookimpl
        def due_events(self, now, ctx):
            return "soon"

    class Stuck:
        @hookimpl
        def due_events(self, now, ctx):
            time.sleep(60)

    class Good:
        @hookimpl
        def due_events(self, now, ctx):
            return (RetentionExpired(path="data/raw/old.csv", dataset="raw", expired_on="2020-01-01",
                                     source="scheduler"),)

    started = time.monotonic()
    with running(wrepo, Garbage(), Stuck(), Good()) as eng:
        assert wait_for(lambda: "probe0" in eng.lines.text() and "probe1" in eng.lines.text())
    assert time.monotonic() - started < 40
    text = eng.lines.text()
    assert "plugin 'probe0' answered due_events with a str, not events" in text
    assert "plugin 'probe1' did not answer due_events within" in text
    assert rows(wrepo, "SELECT subject FROM journal WHERE kind = 'retention_expired'") == \
        [("data/raw/old.csv",)]



def test_a_file_deleted_while_it_is_hashed_is_not_recorded(wrepo, monkeypatch):
    real = engine_mod.hash_file

    def deleting(path):
        if Path(path).name == "doomed.csv":
            with open(path, "rb"):
                os.unlink(path)  # gone between open and the end of the read
        return real(path)
    monkeypatch.setattr(engine_mod, "hash_file", deleting)
    with running(wrepo) as eng:
        write(wrepo, "data/raw/doomed.csv", "x\n1\n")
        write(wrepo, "data/raw/kept.csv", "x\n2\n")
        assert wait_for(lambda: [p for p, _ in observed(wrepo)] == ["data/raw/kept.csv"])
        time.sleep(0.3)
    assert [p for p, _ in observed(wrepo)] == ["data/raw/kept.csv"]
    assert eng.last_error is None


def test_an_unreadable_file_is_reported_and_read_once_it_can_be(wrepo, monkeypatch):
    path = write(wrepo, "data/raw/locked.csv", "x\n1\n")
    if os.geteuid() == 0:
        # root reads files whatever their mode; make the read fail the way EACCES does
        real = engine_mod.hash_file
        locked = {"on": True}

        def denied(p):
            if Path(p).name == "locked.csv" and locked["on"]:
                raise Unreadable("permission denied")
            return real(p)
        monkeypatch.setattr(engine_mod, "hash_file", denied)
        unlock = lambda: locked.update(on=False)  # noqa: E731
    else:
        path.chmod(0)
        unlock = lambda: path.chmod(0o644)  # noqa: E731
    with running(wrepo) as eng:
        assert wait_for(lambda: "cannot read data/raw/locked.csv: permission denied" in eng.lines.text())
        assert observed(wrepo) == []
        assert eng.last_error["message"].startswith("cannot read data/raw/locked.csv")
        unlock()
        write(wrepo, "data/raw/locked.csv", "x\n1\n2\n")
        assert wait_for(lambda: len(observed(wrepo)) == 1)


def test_a_symlink_loop_is_reported_and_skipped(wrepo):
    os.symlink("loop2.csv", wrepo / "data/raw/loop1.csv")
    os.symlink("loop1.csv", wrepo / "data/raw/loop2.csv")
    write(wrepo, "data/raw/fine.csv", "x\n1\n")
    with running(wrepo) as eng:
        assert wait_for(lambda: len(observed(wrepo)) == 1)
    assert "cannot read data/raw/loop1.csv: symlink loop" in eng.lines.text()
    assert [p for p, _ in observed(wrepo)] == ["data/raw/fine.csv"]


def test_a_dataset_folder_that_appears_later_is_watched(wrepo):
    assert not (wrepo / "data/deep").exists()
    with running(wrepo):
        write(wrepo, "data/deep/2024/05/part.csv", "x\n1\n")
        assert wait_for(lambda: len(observed(wrepo)) == 1)
        write(wrepo, "data/deep/2024/06/part.csv", "x\n2\n")
        assert wait_for(lambda: len(observed(wrepo)) == 2)
    assert sorted(p for p, _ in observed(wrepo)) == ["data/deep/2024/05/part.csv", "data/deep/2024/06/part.csv"]
