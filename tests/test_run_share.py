"""Run records travel with the store's remote: a run made in one clone is reproduced in another."""
from __future__ import annotations

import json
import sys

import pytest

import run_project
from conftest import git, gitgov, write
from gitgov.core.errors import InputError
from gitgov.core.ledger_canon import entry_id

PY = sys.executable
READS_UNTRACKED = ("import os; os.makedirs('models', exist_ok=True); "
                   "open('models/count.txt', 'w').write(str(len(open('data/raw/customers_extra.csv').read())))")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return run_project.build(tmp_path_factory.mktemp("share"))


@pytest.fixture
def team(template, tmp_path):
    """Ada's clone, with a run; a bare Git remote; the shared store; Bob's clone, initialised."""
    ada = run_project.copy(template, tmp_path / "ada")
    with open(ada / "gitgov.toml", "a") as f:
        f.write('\n[store]\nremote = "../team-store"\n')
    git(ada, "commit", "-q", "-am", "share the store")
    git(tmp_path, "init", "-q", "--bare", "-b", "main", "origin.git")
    git(ada, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(ada, "push", "-q", "origin", "main")
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), "bob")
    bob = tmp_path / "bob"
    gitgov(bob, "init", check=True)
    return ada, bob


def entries(repo) -> int:
    return len(json.loads(gitgov(repo, "log", "--json", "-n", "100000").stdout))


def test_a_run_pushed_from_one_clone_is_pulled_and_reproduced_in_another(team):
    ada, bob = team
    write(ada, "data/raw/customers_extra.csv", run_project.customers_csv(7))  # untracked: stored
    for _ in range(2):  # two runs of one name: a name means the newest
        assert gitgov(ada, "run", "--name", "train", "--", PY, "train.py").returncode == 0
    assert gitgov(ada, "run", "--name", "count", "--", PY, "-c", READS_UNTRACKED).returncode == 0
    ran = {name: json.loads(gitgov(ada, "runs", "show", name, "--json").stdout) for name in ("train", "count")}
    pushed = gitgov(ada, "store", "push")
    assert pushed.returncode == 0 and "sent 3 run record(s); 0 were there already" in pushed.stdout
    count_id = ran["count"]["run_id"]
    assert (ada.parent / "team-store" / "runs" / f"{count_id}.json").is_file()
    assert "sent 0 run record(s); 3 were there already" in gitgov(ada, "store", "push").stdout

    unknown = gitgov(bob, "reproduce", count_id)
    assert unknown.returncode == 2 and "`gitgov store pull RUN` fetches it" in unknown.stderr
    pulled = gitgov(bob, "store", "pull", count_id[:8])
    assert pulled.returncode == 0, pulled.stderr
    assert f"imported the record of run {count_id[:8]}" in pulled.stdout
    assert "fetched 2 object(s)" in pulled.stdout  # the untracked input and the output, stored in Ada's clone
    shown = json.loads(gitgov(bob, "runs", "show", count_id, "--json").stdout)
    for key in ("actor", "command", "seed", "commit", "inputs", "outputs", "started", "state"):
        assert shown[key] == ran["count"][key], key
    text = gitgov(bob, "runs", "show", count_id).stdout
    assert f"by Ada <ada@example.com>, in another clone (its record came from {ada.parent / 'team-store'})" in text
    assert "in another clone" not in gitgov(ada, "runs", "show", count_id).stdout
    out = gitgov(bob, "reproduce", count_id)
    assert out.returncode == 0 and "1 output(s) bit-identical" in out.stdout, out.stdout + out.stderr
    assert gitgov(bob, "verify").returncode == 0
    recorded = json.loads(gitgov(bob, "log", "--json", "--subject", count_id).stdout)
    assert {e["kind"] for e in recorded} >= {"run_started", "run_finished", "run_reproduced"}
    marks = [e["payload"].get("imported") for e in recorded if e["kind"] != "run_reproduced"]
    assert all(m and m["from"] == str(ada.parent / "team-store") for m in marks)  # where each came from

    before = entries(bob)
    missing = gitgov(bob, "store", "pull", "nope")
    assert missing.returncode == 2 and "no run matches 'nope' here or on" in missing.stderr
    by_name = gitgov(bob, "store", "pull", "train")  # a name: the newest run of that name
    assert by_name.returncode == 0 and by_name.stdout.count("imported the record") == 1
    assert json.loads(gitgov(bob, "runs", "show", "train", "--json").stdout)["run_id"] == ran["train"]["run_id"]
    train = json.loads((ada.parent / "team-store" / "runs" / f"{ran['train']['run_id']}.json").read_text())
    assert [e["kind"] for e in train["entries"]] == ["run_started", "run_snapshot", "run_finished", "lineage"]
    assert entries(bob) == before + 4
    everything = gitgov(bob, "store", "pull")  # the older train run; the other two are here already
    assert everything.returncode == 0 and everything.stdout.count("imported the record") == 1
    assert gitgov(bob, "store", "pull").stdout.count("imported the record") == 0
    lineage = gitgov(bob, "lineage", "models/count.txt", "--upstream")
    assert lineage.returncode == 0 and f"produced by run {count_id[:8]} count" in lineage.stdout


def test_a_damaged_or_foreign_record_is_refused_and_nothing_is_imported(team):
    ada, bob = team
    for name in ("one", "two"):
        assert gitgov(ada, "run", "--name", name, "--", PY, "train.py").returncode == 0
    assert gitgov(ada, "store", "push").returncode == 0
    runs = ada.parent / "team-store" / "runs"
    record = sorted(runs.iterdir())[-1]  # read after the sound one: which must not be imported either
    doc = json.loads(record.read_text())
    last = doc["entries"][-1]
    last["payload"] = last["payload"].replace('"status":"ok"', '"status":"failed"')
    assert '"failed"' in last["payload"]
    record.write_text(json.dumps(doc))
    before = entries(bob)
    out = gitgov(bob, "store", "pull")
    assert out.returncode == 2
    assert out.stderr.strip() == (f"gitgov: {record}: entry {len(doc['entries'])}: its content does not "
                                  "match its id (changed or damaged on the way); no run record was "
                                  "imported")
    assert entries(bob) == before and gitgov(bob, "runs", "list", "--json").stdout.strip() == "[]"

    forged = dict(doc["entries"][0], payload="[1, 2]")  # its id made to match: only the shape is wrong
    forged["id"] = entry_id(*(forged[k] for k in ("seq", "prev", "time", "kind", "actor", "source",
                                                  "subject", "payload")))
    for text, problem in ((json.dumps({**doc, "entries": [forged]}), "entry 1: its payload is not a JSON object"),
                          ("{not json", "not a run record: Expecting property name"),
                          ('{"format": "gitgov-run-record", "version": 7}', "run record version 7"),
                          (json.dumps({**doc, "run_id": "x"}), "\"run_id\" is not a run id: 'x'")):
        record.write_text(text)
        out = gitgov(bob, "store", "pull")
        assert out.returncode == 2 and f"gitgov: {record}: {problem}" in out.stderr, out.stderr
        assert entries(bob) == before

    sound = sorted(runs.iterdir())[0]
    record.write_text(sound.read_text())  # another run's record under this run's name
    out = gitgov(bob, "store", "pull")
    assert out.returncode == 2 and out.stderr.strip() == (
        f"gitgov: {record}: holds the record of run {sound.stem}, not of {record.stem}; no run record "
        "was imported")
    record.write_bytes(b"\xff\xfe not text")
    out = gitgov(bob, "store", "pull")
    assert out.returncode == 2 and out.stderr.strip() == (
        f"gitgov: [store] remote {runs.parent}: runs/{record.name}: not UTF-8 text (byte 0); no run "
        "record was imported")
    twin = runs / f"{record.stem[:-4]}ffff.json"  # shares all but the last 4 characters of its id
    twin.write_text(sound.read_text())
    out = gitgov(bob, "store", "pull", record.stem[:8])
    assert out.returncode == 2 and out.stderr.strip().startswith(
        f"gitgov: run id prefix '{record.stem[:8]}' is ambiguous on {runs.parent}: ")
    assert entries(bob) == before


@pytest.mark.parametrize("change, problem", [
    (lambda d: d.update(entries=[]), "\"entries\" must be a non-empty list"),
    (lambda d: d["entries"][0].pop("actor"), "entry 1: must have exactly the fields seq, id, prev, time, "
                                             "kind, actor, source, subject, payload"),
    (lambda d: d["entries"][0].update(seq="1"), "entry 1: \"seq\" must be an integer and every other "
                                                "field text"),
    (lambda d: d["entries"][0].update(kind="data_added"), "entry 1: kind 'data_added' is not part of a "
                                                          "run record (run_started, run_snapshot, "
                                                          "run_finished, lineage)"),
    (lambda d: d["entries"][0].update(subject="other"), "entry 1: its subject 'other' is not the run "),
    (lambda d: d.update(entries=d["entries"][1:]), "the first entry must be the run's run_started"),
])
def test_each_shape_a_run_record_must_have_is_named(change, problem):
    """What `gitgov store pull` says of a record of the wrong shape (before the path and the
    "no run record was imported" the command adds, shown above)."""
    from gitgov.core.run_share import FORMAT, VERSION, parse_record

    run_id = "0123abcd-0000-4000-8000-000000000000"
    entries = []
    for seq, kind in enumerate(("run_started", "run_finished"), 1):
        entry = {"seq": seq, "prev": "0" * 64, "time": "2026-01-01T00:00:00Z", "kind": kind,
                 "actor": "Ada", "source": "cli", "subject": run_id, "payload": "{}"}
        entry["id"] = entry_id(*(entry[k] for k in ("seq", "prev", "time", "kind", "actor", "source",
                                                    "subject", "payload")))
        entries.append(entry)
    doc = {"format": FORMAT, "version": VERSION, "run_id": run_id, "entries": entries}
    assert parse_record(json.dumps(doc), "r.json")[0] == run_id  # sound as made
    change(doc)
    with pytest.raises(InputError) as err:
        parse_record(json.dumps(doc), "r.json")
    assert str(err.value).startswith(f"r.json: {problem}")


def test_a_record_is_imported_once_even_when_two_pulls_met_it_at_once(team):
    """Both pulls saw the run missing; the second import finds it inside its transaction."""
    from gitgov.core.ledger import open_ledger
    from gitgov.core.run_share import import_record, parse_record

    ada, bob = team
    assert gitgov(ada, "run", "--name", "train", "--", PY, "train.py").returncode == 0
    assert gitgov(ada, "store", "push").returncode == 0
    [record] = (ada.parent / "team-store" / "runs").iterdir()
    run_id, entries = parse_record(record.read_text(), str(record))
    with open_ledger(bob / ".gitgov" / "ledger.db") as ledger:
        first = ledger.head()
        assert import_record(ledger, run_id, entries, "remote") is True
        after = ledger.head()
        assert after[0] == first[0] + len(entries)
        assert import_record(ledger, run_id, entries, "remote") is False
        assert ledger.head() == after
