"""The event bus, driven directly: small test plugins on a fresh manager, a real
policy file and a real ledger. What it must guarantee: every plugin is called,
one failing or hanging plugin never silences the others, and everything is
recorded in one transaction."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from gitgov.core import bus
from gitgov.core.config import load_policy
from gitgov.core.context import Context
from gitgov.core.events import DataAdded, DataDisposed, Fact, Finding, RetentionExpired, error, info, warning
from gitgov.core.hookspecs import hookimpl
from gitgov.core.ledger import open_ledger
from gitgov.core.plugins import load_host

# No built-in plugin: `enable = []` leaves only the test plugins given to load_host.
POLICY = """\
[datasets.customers]
paths = ["data/*.csv"]

[plugins]
enable = []
timeout = {timeout}
"""


@pytest.fixture
def make_ctx(tmp_path):
    """A Context over a real policy and a fresh ledger in tmp_path."""
    def make(timeout: float = 0.5) -> Context:
        policy_path = tmp_path / "gitgov.toml"
        policy_path.write_text(POLICY.format(timeout=timeout))
        ledger = tmp_path / "ledger.db"
        if not ledger.exists():
            open_ledger(ledger, create=True).close()
        return Context(policy=load_policy(policy_path), ledger_path=ledger)
    yield make


def host_with(*plugins):
    """A fresh manager with only these (name, object) test plugins."""
    empty = load_policy(Path("/nonexistent/gitgov.toml"))
    policy = empty._replace(plugins=empty.plugins._replace(enable=()))
    host = load_host(policy, None, extra=plugins)
    assert [p.name for p in host.plugins if p.enabled] == [n for n, _ in plugins]
    assert not host.load_errors, host.load_errors
    return host


def entries(ctx: Context, kind: str | None = None) -> list:
    return list(ctx.ledger().entries(kind=kind, newest_first=False))


def added(path: str = "data/a.csv") -> DataAdded:
    return DataAdded(path=path, dataset="customers", blob="b" * 40, size=3, actor="ada@example.com",
                     source="hook")


class Recorder:
    """Answers data_added with what it is told to, and remembers what it saw."""

    def __init__(self, *answer) -> None:
        self.answer = answer
        self.seen: list = []

    @hookimpl
    def data_added(self, event, ctx):
        self.seen.append(event)
        return list(self.answer)


class Raises:
    @hookimpl
    def data_added(self, event, ctx):
        raise ValueError("column 'age' exploded")


class Sleeps:
    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def data_added(self, event, ctx):
        self.calls += 1
        time.sleep(3600)


# ---- every plugin is called; failures are isolated ------------------------------------

def test_every_plugin_receives_every_event_and_all_findings_are_kept(make_ctx):
    a, b, c = Recorder(warning("w", "from a")), Recorder(), Recorder(error("e", "from c"))
    ctx = make_ctx()
    events = [added("data/a.csv"), added("data/b.csv")]
    out = bus.emit(events, host_with(("a", a), ("b", b), ("c", c)), ctx)
    for plugin in (a, b, c):
        assert [e.path for e in plugin.seen] == ["data/a.csv", "data/b.csv"]
    assert [(f.plugin, f.code, f.path, f.hook) for f in out.findings] == [
        ("a", "w", "data/a.csv", "data_added"), ("c", "e", "data/a.csv", "data_added"),
        ("a", "w", "data/b.csv", "data_added"), ("c", "e", "data/b.csv", "data_added")]
    assert out.blocked


def test_a_raising_plugin_becomes_a_finding_and_the_others_still_run(make_ctx, capsys):
    before, after = Recorder(info("i", "before")), Recorder(info("i", "after"))
    host = host_with(("before", before), ("broken", Raises()), ("after", after))
    out = bus.emit([added()], host, make_ctx())
    assert len(before.seen) == len(after.seen) == 1
    [failure] = [f for f in out.findings if f.code == "plugin-error"]
    assert failure.severity == "error" and failure.plugin == "broken"
    assert failure.hook == "data_added" and failure.path == "data/a.csv"
    assert failure.message == ("plugin 'broken' failed in data_added: "
                               "ValueError: column 'age' exploded")
    assert "traceback" not in failure.details
    assert "Traceback" not in capsys.readouterr().err


def test_gitgov_debug_shows_the_plugins_traceback(make_ctx, capsys, monkeypatch):
    monkeypatch.setenv("GITGOV_DEBUG", "1")
    out = bus.emit([added()], host_with(("broken", Raises())), make_ctx())
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and 'raise ValueError("column' in err
    assert "ValueError" in out.findings[0].details["traceback"]


def test_a_hanging_plugin_is_stopped_at_the_deadline_and_skipped_afterwards(make_ctx):
    sleeper, after = Sleeps(), Recorder()
    host = host_with(("sleeper", sleeper), ("after", after))
    started = time.monotonic()
    out = bus.emit([added("data/a.csv"), added("data/b.csv")], host, make_ctx(timeout=0.3))
    # One deadline, not one per event: the second event does not wait again.
    assert time.monotonic() - started < 2.5
    assert sleeper.calls == 1 and len(after.seen) == 2
    codes = [(f.plugin, f.code, f.path) for f in out.findings]
    assert codes == [("sleeper", "plugin-timeout", "data/a.csv"),
                     ("sleeper", "plugin-skipped", "data/b.csv")]
    assert "did not answer data_added within 0.3 s" in out.findings[0].message
    assert "[plugins] timeout" in out.findings[0].message
    assert all(f.blocks for f in out.findings)  # what it checks was not checked
    assert host.hung == {"sleeper"}


def test_a_generator_plugin_runs_under_the_deadline_too(make_ctx):
    class Generates:
        @hookimpl
        def data_added(self, event, ctx):
            yield info("first", "one")
            time.sleep(3600)
            yield info("never", "two")

    started = time.monotonic()
    out = bus.emit([added()], host_with(("gen", Generates())), make_ctx(timeout=0.3))
    assert time.monotonic() - started < 2.5
    assert [f.code for f in out.findings] == ["plugin-timeout"]


def test_the_worker_thread_ends_with_the_emit(make_ctx):
    ctx, host = make_ctx(), host_with(("a", Recorder()))
    bus.emit([added()], host, ctx)  # warm up whatever the first emit imports
    before = threading.active_count()
    for _ in range(20):
        bus.emit([added()], host, ctx)
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= before  # a long-lived watcher must not leak threads


# ---- what plugins may return --------------------------------------------------------

@pytest.mark.parametrize("answer, expected", [
    ("not a finding", "TypeError: returned str, expected Finding, Fact or None"),
    ([info("ok", "fine"), 42], "TypeError: returned int, expected Finding, Fact or None"),
    ([Fact(kind="data_added", subject="x")], "returned a fact of kind 'data_added', which only gitgov records"),
    ([Fact(kind="profile", subject="x", payload={"obj": object()})], "fact 'profile' cannot be stored in the ledger"),
    ([Fact(kind="profile", subject="x", payload={"mean": float("nan")})], "fact 'profile' cannot be stored"),
    ([error("bad", "bad", when=object())], "finding 'bad' cannot be stored in the ledger"),
    ([Finding(severity="error", code=5, message="m")], "a finding has a code of type int"),
    ([Finding(severity="error", code="c", message=None)], "a finding has a message of type NoneType"),
    ([Finding(severity="error", code="c", message="m", path=7)], "finding 'c' has a path of type int"),
    ([Finding(severity="error", code="c", message="m", details=[1])], "finding 'c' has details of type list"),
    ([Fact(kind=3, subject="x")], "a fact has a kind of type int"),
    ([Fact(kind="profile", subject=None)], "fact 'profile' has a subject of type NoneType"),
    ([Fact(kind="profile", subject="x", payload=[1, 2])], "fact 'profile' has a payload of type list"),
])
def test_a_malformed_answer_is_the_plugins_failure_not_a_crash(make_ctx, answer, expected):
    class Odd:
        @hookimpl
        def data_added(self, event, ctx):
            return answer

    ctx = make_ctx()
    out = bus.emit([added()], host_with(("odd", Odd()), ("fine", Recorder(info("i", "x")))), ctx)
    failures = [f for f in out.findings if f.code == "plugin-error"]
    assert [f.plugin for f in failures] == ["odd"] and expected in failures[0].message
    assert any(f.plugin == "fine" for f in out.findings)
    [entry] = entries(ctx, "data_added")  # the run is still recorded
    assert entry.payload["verdict"] == "block"
    assert entries(ctx, "profile") == []


def test_a_finding_cannot_speak_for_another_plugin(make_ctx):
    forged = dataclasses.replace(error("key", "all fine"), plugin="secrets", hook="commit_created")
    out = bus.emit([added()], host_with(("sly", Recorder(forged))), make_ctx())
    assert (out.findings[0].plugin, out.findings[0].hook) == ("sly", "data_added")


def test_tryfirst_and_trylast_order_the_calls(make_ctx):
    order = []

    def plugin(name, **opts):
        class P:
            @hookimpl(**opts)
            def data_added(self, event, ctx):
                order.append(name)
        return name, P()

    host = host_with(plugin("last", trylast=True), plugin("a"), plugin("first", tryfirst=True),
                     plugin("b"))
    bus.emit([added()], host, make_ctx(), record=False)
    assert order == ["first", "a", "b", "last"]


# ---- recording ------------------------------------------------------------------------

def test_events_findings_and_facts_are_recorded_in_one_transaction(make_ctx):
    profile = Fact(kind="profile", subject="data/a.csv", payload={"rows": 2, "cols": ("a", "b")})
    ctx = make_ctx()
    out = bus.emit([added()], host_with(("p", Recorder(warning("w", "careful"), profile))), ctx)
    assert [r.kind for r in out.recorded] == ["data_added", "profile"]
    assert out.recorded[1].seq == out.recorded[0].seq + 1
    assert out.recorded[1].prev == out.recorded[0].id
    event, fact = entries(ctx)[-2:]
    assert event.subject == "data/a.csv" and event.actor == "ada@example.com"
    assert event.source == "hook" and event.payload["verdict"] == "pass"
    assert event.payload["blob"] == "b" * 40 and event.payload["event"] == "data_added"
    assert [(f["plugin"], f["code"], f["severity"]) for f in event.payload["findings"]] == [
        ("p", "w", "warning")]
    assert fact.subject == "data/a.csv" and fact.time == event.time
    assert fact.payload == {"rows": 2, "cols": ["a", "b"], "event": "data_added",
                            "event_subject": "data/a.csv"}


def test_record_false_writes_nothing(make_ctx):
    ctx = make_ctx()
    head = ctx.ledger().head()
    out = bus.emit([added()], host_with(("p", Recorder(error("e", "x")))), ctx, record=False)
    assert out.blocked and out.recorded == [] and ctx.ledger().head() == head


# ---- follow-up events ------------------------------------------------------------------

def disposed(path: str) -> DataDisposed:
    return DataDisposed(path=path, dataset="customers", reason="retention", rows_before=10,
                        rows_after=7, actor="scheduler", source="scheduler")


def test_hook_data_disposed_receives_follow_ups_emitted_during_a_run(make_ctx):
    class Retention:
        @hookimpl
        def retention_expired(self, event, ctx):
            ctx.emit(disposed(event.path))
            return info("expired", f"{event.rows} rows expired")

    class Audit:
        def __init__(self) -> None:
            self.seen = []

        @hookimpl
        def data_disposed(self, event, ctx):
            self.seen.append(event)
            return Fact(kind="disposal_audited", subject=event.path,
                        payload={"removed": event.rows_before - event.rows_after})

    audit, ctx = Audit(), make_ctx()
    expired = RetentionExpired(path="data/a.csv", dataset="customers", expired_on="2024-01-01",
                               rows=3, source="scheduler")
    out = bus.emit([expired], host_with(("retention", Retention()), ("audit", audit)), ctx)
    assert [e.name for e in out.events] == ["retention_expired", "data_disposed"]
    assert [e.path for e in audit.seen] == ["data/a.csv"] and ctx.pending == []
    kinds = [r.kind for r in out.recorded]
    assert kinds == ["retention_expired", "data_disposed", "disposal_audited"]
    audited = entries(ctx, "disposal_audited")[-1]
    assert audited.payload["removed"] == 3 and audited.payload["event"] == "data_disposed"
    dispose = entries(ctx, "data_disposed")[-1]
    assert dispose.payload["rows_after"] == 7 and dispose.source == "scheduler"


def test_hook_retention_expired_findings_are_recorded_with_the_event(make_ctx):
    class Holds:
        @hookimpl
        def retention_expired(self, event, ctx):
            return error("legal-hold", f"{event.dataset} is on hold", rows=event.rows)

    ctx = make_ctx()
    event = RetentionExpired(path="data/a.csv", dataset="customers", expired_on="2024-01-01",
                             rows=3, source="scheduler")
    out = bus.emit([event], host_with(("hold", Holds())), ctx)
    assert out.blocked
    [entry] = entries(ctx, "retention_expired")
    assert entry.payload["verdict"] == "block" and entry.payload["expired_on"] == "2024-01-01"
    assert entry.payload["findings"][0]["details"] == {"rows": 3}
    assert entry.payload["findings"][0]["path"] == "data/a.csv"


def test_a_plugin_that_emits_for_ever_is_cut_off(make_ctx, monkeypatch):
    monkeypatch.setattr(bus, "MAX_FOLLOW_UPS", 25)

    class Echo:
        @hookimpl
        def data_disposed(self, event, ctx):
            ctx.emit(disposed(event.path))

    out = bus.emit([disposed("data/a.csv")], host_with(("echo", Echo())), make_ctx())
    assert len(out.events) == 26
    [cut] = [f for f in out.findings if f.code == "too-many-follow-ups"]
    assert cut.blocks and "more than 25 follow-up events" in cut.message


def test_emitting_something_that_is_not_an_event_is_the_plugins_failure(make_ctx):
    class Bad:
        @hookimpl
        def data_added(self, event, ctx):
            ctx.emit("data/a.csv was disposed")

    out = bus.emit([added()], host_with(("bad", Bad())), make_ctx())
    assert len(out.events) == 1
    assert out.findings[0].plugin == "bad" and "emitted str, expected an Event" in out.findings[0].message


# ---- tracing and collectors ------------------------------------------------------------

def test_gitgov_trace_prints_every_hook_call(make_ctx, capsys, monkeypatch):
    monkeypatch.setenv("GITGOV_TRACE", "1")
    host = host_with(("a", Recorder()), ("broken", Raises()))
    bus.emit([added("data/a.csv"), added("data/b.csv")], host, make_ctx(), record=False)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("gitgov trace:")]
    assert [line.split(" [")[0] for line in lines] == [
        "gitgov trace: a.data_added(data_added data/a.csv) -> ok",
        "gitgov trace: broken.data_added(data_added data/a.csv) -> raised",
        "gitgov trace: a.data_added(data_added data/b.csv) -> ok",
        "gitgov trace: broken.data_added(data_added data/b.csv) -> raised"]
    assert all(line.endswith(" ms]") for line in lines)


def test_without_gitgov_trace_nothing_is_printed(make_ctx, capsys):
    bus.emit([added()], host_with(("a", Recorder())), make_ctx(), record=False)
    assert capsys.readouterr().err == ""


def test_collect_isolates_failing_collectors():
    class Good:
        @hookimpl
        def register_commands(self, cli):
            cli.append("good")
            return "registered"

    class Bad:
        @hookimpl
        def register_commands(self, cli):
            raise RuntimeError("no commands today")

    group: list = []
    results, failures = bus.collect(host_with(("bad", Bad()), ("good", Good())), "register_commands",
                                    cli=group)
    assert group == ["good"] and results == ["registered"]
    assert [(f.plugin, f.hook, f.code) for f in failures] == [("bad", "register_commands", "plugin-error")]
    assert "RuntimeError: no commands today" in failures[0].message


# ---- a plugin that holds the interpreter ---------------------------------------------

HOLDS_THE_GIL = """
import re, sys
from gitgov.core import bus
from gitgov.core.context import Context
from gitgov.core.events import DataAdded
from gitgov.core.hookspecs import hookimpl
from gitgov.core.plugins import load_host

class Backtracks:
    @hookimpl
    def data_added(self, event, ctx):
        # catastrophic backtracking: C code that never releases the interpreter lock
        re.match(r"(a+)+$", "a" * 64 + "b")

host = load_host(None, None, extra=[("backtracks", Backtracks())])
bus.emit([DataAdded(path="x.csv")], host, Context(policy=None), record=False, timeout=0.2)
print("not reached")
"""


def test_a_plugin_stuck_in_c_code_still_ends_the_process(tmp_path):
    script = tmp_path / "stuck.py"
    script.write_text(textwrap.dedent(HOLDS_THE_GIL))
    started = time.monotonic()
    env = {**os.environ, "GITGOV_DISABLE": "secrets"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                          env=env)
    took = time.monotonic() - started
    assert proc.returncode == 1 and "not reached" not in proc.stdout
    assert took < bus.backstop(0.2) + 8
    # Where it was stuck, naming the plugin's function, is the last word.
    assert "Timeout" in proc.stderr and "in data_added" in proc.stderr


NESTED_THEN_STUCK = """
import re
from gitgov.core import bus
from gitgov.core.context import Context
from gitgov.core.events import DataAdded
from gitgov.core.hookspecs import hookimpl
from gitgov.core.plugins import load_host

class Collects:  # as the privacy plugin does: its own Caller, inside a hook call
    @hookimpl
    def data_added(self, event, ctx):
        bus.collect(host, "register_commands", cli=None)

class Backtracks:
    @hookimpl
    def data_added(self, event, ctx):
        re.match(r"(a+)+$", "a" * 64 + "b")

host = load_host(None, None, extra=[("collects", Collects()), ("backtracks", Backtracks())])
bus.emit([DataAdded(path="x.csv")], host, Context(policy=None), record=False, timeout=0.2)
print("not reached")
"""


def test_a_caller_nested_in_a_plugin_leaves_the_outer_backstop_armed(tmp_path):
    """An inner Caller that ends must not disarm the process's one watchdog for the outer."""
    script = tmp_path / "nested.py"
    script.write_text(NESTED_THEN_STUCK)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "GITGOV_DISABLE": "secrets"})
    assert proc.returncode == 1 and "not reached" not in proc.stdout, proc.stderr
    assert "Timeout" in proc.stderr and "in data_added" in proc.stderr


LONG_LIVED_CALLER = """
import time
from gitgov.core import bus
from gitgov.core.hookspecs import hookimpl
from gitgov.core.plugins import load_host

class Quick:
    @hookimpl
    def register_commands(self, cli):
        return "ok"

host = load_host(None, None, extra=[("quick", Quick())])
caller = bus.Caller(host, 0.1)  # as a daemon keeps one: no `with`
[impl] = [i for i in caller.impls("register_commands") if i.plugin_name == "quick"]
print(caller.call(impl, "register_commands", {"cli": None}))
time.sleep(bus.backstop(0.1) + 1)  # the backstop must not fire after the call
print("alive")
"""


def test_a_long_lived_caller_leaves_no_backstop_armed(tmp_path):
    script = tmp_path / "daemon.py"
    script.write_text(LONG_LIVED_CALLER)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["('ok', None)", "alive"]
