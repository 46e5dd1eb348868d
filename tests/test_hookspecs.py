"""The plugin contract itself: every hookspec is typed, documented, has a test and a
section in the README, and every lifecycle event has exactly one hook.

The hook-to-test registry works by name: a test exercises hook ``NAME`` when its
function name contains ``hook_NAME`` and its source defines ``def NAME(`` (the
plugin implementation it feeds). A new hookspec without such a test fails here.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from gitgov.core import bus, hookspecs
from gitgov.core.events import (EVENT_TYPES, Event, Fact, Finding, PushReceived, RefUpdate, RunFinished,
                                RunStarted, error, warning)
from gitgov.core.hookspecs import hookimpl
from test_bus import entries, host_with, make_ctx  # noqa: F401 - make_ctx is a fixture

TESTS = Path(__file__).resolve().parent
README = TESTS.parent / "README.md"
PROJECT = hookspecs.PROJECT


def specs() -> dict[str, typing.Callable]:
    """Every function in core/hookspecs.py marked @hookspec, in file order."""
    return {name: fn for name, fn in vars(hookspecs).items()
            if inspect.isfunction(fn) and hasattr(fn, f"{PROJECT}_spec")}


SPECS = specs()


def type_checking_namespace() -> dict:
    """hookspecs' globals plus what its `if TYPE_CHECKING:` block imports, as a type checker sees it."""
    namespace = dict(vars(hookspecs))
    tree = ast.parse(inspect.getsource(hookspecs))
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            code = compile(ast.Module(body=node.body, type_ignores=[]), hookspecs.__file__, "exec")
            exec(code, namespace)  # noqa: S102 - our own module's imports
    return namespace


def signature(fn) -> str:
    """``name(param: Type, ...) -> Return`` as written in core/hookspecs.py."""
    def text(annotation) -> str:
        return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)

    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {text(p.annotation).strip(chr(39) + chr(34))}"
                       for p in sig.parameters.values())
    return f"{fn.__name__}({params}) -> {text(sig.return_annotation).strip(chr(39) + chr(34))}"


def test_the_contract_is_not_empty():
    assert {"data_added", "data_removed", "commit_created", "push_requested", "register_commands"} <= set(SPECS)


@pytest.mark.parametrize("name", SPECS)
def test_each_hookspec_is_documented(name):
    doc = inspect.getdoc(SPECS[name])
    assert doc and len(doc.split()) >= 5, f"hookspec {name} needs a docstring: when it fires, what it gets"


@pytest.mark.parametrize("name", SPECS)
def test_each_hookspec_is_fully_typed_with_names_that_resolve(name):
    fn = SPECS[name]
    sig = inspect.signature(fn)
    missing = [p.name for p in sig.parameters.values() if p.annotation is inspect.Parameter.empty]
    assert not missing, f"{name}: parameters without a type: {missing}"
    assert sig.return_annotation is not inspect.Signature.empty, f"{name}: no return type"
    hints = typing.get_type_hints(fn, globalns=type_checking_namespace())
    assert set(hints) == set(sig.parameters) | {"return"}


def test_each_event_has_exactly_one_hook_named_after_it_and_typed_with_it():
    namespace = type_checking_namespace()
    for event_type in EVENT_TYPES:
        assert dataclasses.is_dataclass(event_type) and event_type.__dataclass_params__.frozen
        spec = SPECS.get(event_type.name)
        assert spec is not None, f"no hookspec for {event_type.__name__} ({event_type.name})"
        hints = typing.get_type_hints(spec, globalns=namespace)
        assert hints["event"] is event_type and list(inspect.signature(spec).parameters) == ["event", "ctx"]
    lifecycle = {n for n, fn in SPECS.items() if "event" in inspect.signature(fn).parameters}
    assert lifecycle == {t.name for t in EVENT_TYPES}, "a lifecycle hook without an event type"


def test_event_names_list_every_event_type_in_order():
    from gitgov.core.events import EVENT_NAMES

    assert EVENT_NAMES == tuple(t.name for t in EVENT_TYPES)


def test_a_run_builds_only_the_run_events():
    """Each event family is its own module, imported on first use (dataclasses cost ~1.5 ms each)."""
    code = ("import sys; from gitgov.core.events import RunStarted, Fact; import gitgov.core.bus; "
            "print(sorted(m for m in sys.modules if m.startswith('gitgov.core.events')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['gitgov.core.events', 'gitgov.core.events_run']"


def test_events_are_frozen_keyword_only_dataclasses_with_a_json_form():
    for event_type in EVENT_TYPES:
        params = event_type.__dataclass_params__
        assert params.frozen and issubclass(event_type, Event)
        required = {f.name: "x" for f in dataclasses.fields(event_type)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        event = event_type(**required)
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.actor = "mallory"  # type: ignore[misc]
        with pytest.raises(TypeError):
            event_type("x", **required)  # keyword only: no positional mix-ups
        assert event.to_dict()["event"] == event_type.name and event.created.endswith("Z")


# ---- the hooks no source fires yet, through the bus -----------------------------

def test_hook_push_received_can_reject_a_push(make_ctx):
    class Server:
        @hookimpl
        def push_received(self, event, ctx):
            return [error("no-delete", f"{r.ref} may not be deleted") for r in event.refs if r.is_delete]

    refs = (RefUpdate(ref="refs/heads/main", old="a" * 40, new="0" * 40),
            RefUpdate(ref="refs/heads/dev", old="0" * 40, new="b" * 40))
    ctx = make_ctx()
    out = bus.emit([PushReceived(refs=refs, source="server")], host_with(("server", Server())), ctx)
    assert out.blocked and [f.message for f in out.findings] == ["refs/heads/main may not be deleted"]
    [entry] = entries(ctx, "push_received")
    assert entry.subject == "refs/heads/main,refs/heads/dev" and entry.payload["verdict"] == "block"


def test_hook_run_started_and_hook_run_finished_snapshot_a_run(make_ctx):
    class Snapshot:
        @hookimpl
        def run_started(self, event, ctx):
            return Fact(kind="run_env", subject=event.run_id,
                        payload={"seed": event.seed, "params": event.params})

        @hookimpl
        def run_finished(self, event, ctx):
            if event.metrics["accuracy"] < 0.5:
                return warning("weak-model", f"accuracy {event.metrics['accuracy']}")

    ctx, host = make_ctx(), host_with(("snap", Snapshot()))
    start = RunStarted(run_id="r1", command=("python", "train.py"), params={"lr": 0.1}, seed=7,
                       source="run")
    assert not bus.emit([start], host, ctx).findings
    finish = RunFinished(run_id="r1", status="ok", exit_code=0, metrics={"accuracy": 0.4},
                         source="run")
    out = bus.emit([finish], host, ctx)
    assert [(f.code, f.hook) for f in out.findings] == [("weak-model", "run_finished")]
    [env] = entries(ctx, "run_env")
    assert env.payload["seed"] == 7 and env.payload["params"] == {"lr": 0.1}
    assert entries(ctx, "run_finished")[-1].payload["metrics"] == {"accuracy": 0.4}


def test_every_event_type_reaches_its_hook(make_ctx):
    """One hook per event, named after it: the bus finds the hook by the event's name."""
    seen = []

    class All:
        pass

    for event_type in EVENT_TYPES:
        def impl(self, event, ctx, _name=event_type.name):
            seen.append((_name, event.name))
        setattr(All, event_type.name, hookimpl(impl))
    samples = {"path": "data/a.csv", "dataset": "customers", "run_id": "r1", "sha": "c" * 40}
    events = []
    for event_type in EVENT_TYPES:
        fields = {f.name for f in dataclasses.fields(event_type)}
        events.append(event_type(**{k: v for k, v in samples.items() if k in fields}))
    bus.emit(events, host_with(("all", All())), make_ctx())
    assert seen == [(t.name, t.name) for t in EVENT_TYPES]


def test_finding_and_fact_are_frozen():
    finding, fact = error("c", "m"), Fact(kind="k", subject="s")
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.severity = "info"
    with pytest.raises(dataclasses.FrozenInstanceError):
        fact.kind = "other"
    with pytest.raises(ValueError, match="severity must be one of"):
        Finding(severity="fatal", code="c", message="m")


# ---- each hook has a test ------------------------------------------------------------

def hook_tests() -> dict[str, list[str]]:
    """hook name -> tests that implement it and are registered for it by name."""
    found: dict[str, list[str]] = {name: [] for name in SPECS}
    for path in sorted(TESTS.glob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        strings = _module_strings(tree)  # once per file, not once per test in it
        for node in ast.walk(tree):
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            named = [name for name in SPECS if f"hook_{name}" in node.name]
            if not named:  # most tests: skip reading their source
                continue
            body = ast.get_source_segment(source, node) or ""
            helpers = _module_strings_used(strings, body)
            for name in named:
                if f"def {name}(" in body or f"def {name}(" in helpers:
                    found[name].append(f"{path.name}::{node.name}")
    return found


def _module_strings(tree: ast.Module) -> list[tuple[str, str]]:
    """(name, text) of each module-level UPPER_CASE string: plugin sources a test may use."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out.append((target.id, node.value.value))
    return out


def _module_strings_used(strings: list[tuple[str, str]], body: str) -> str:
    """Module-level plugin sources (UPPER_CASE strings) that the test refers to."""
    return "\n".join(text for name, text in strings if re.search(rf"\b{name}\b", body))


def test_each_hookspec_is_exercised_by_a_test():
    registry = hook_tests()
    untested = [name for name, tests in registry.items() if not tests]
    assert not untested, (f"hooks without a test: {untested}; add a test named test_hook_<name>_... "
                          "that runs a plugin defining `def <name>(`")


# ---- each hook is in the README --------------------------------------------------------

@pytest.mark.xfail(not README.exists(), reason="README.md is not written yet", strict=True)
def test_the_readme_documents_every_hook_with_its_signature():
    text = README.read_text(encoding="utf-8")
    lines = {line.rstrip() for line in text.splitlines()}
    missing = [f"### `{signature(fn)}`" for fn in SPECS.values() if f"### `{signature(fn)}`" not in lines]
    assert not missing, "README.md needs these headings (one section per hook):\n" + "\n".join(missing)
    documented = set(re.findall(r"^### `(\w+)\(", text, flags=re.MULTILINE))
    assert documented <= set(SPECS), f"README.md documents hooks that do not exist: {documented - set(SPECS)}"
