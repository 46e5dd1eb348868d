"""Run records that travel with the store's remote, so that another clone can reproduce a run.

A run's record is the ledger entries of its clone whose subject is the run id:
run_started, run_snapshot, run_finished and lineage. `gitgov store push`
writes them to ``runs/RUN_ID.json`` on the remote, beside the objects;
`gitgov store pull` appends them to this clone's ledger as they were (time,
actor, payload), each marked with where it came from.

Each entry travels with the id, sequence number and predecessor it had in the
ledger that recorded it, and its payload text exactly as stored there, so the
id is computed again here: a record changed or damaged on the way is refused
whole, as is one that is not a run record at all. The check proves that the
entries are what that ledger held, not who wrote them: the remote is trusted
as the objects beside it are.
"""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .ledger_rows import COLUMNS

if TYPE_CHECKING:
    from .ledger import Ledger
    from .store import ObjectStore

FORMAT, VERSION = "gitgov-run-record", 1
FOLDER = "runs"
KINDS = ("run_started", "run_snapshot", "run_finished", "lineage")
# Runs worth sending: a run still going has no end yet, and a refused one never ran.
ENDED = ("ok", "failed", "interrupted", "killed")
_RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_FIELDS = tuple(COLUMNS.split(", "))  # a journal row's columns, in its order


def record_of(ledger: "Ledger", run_id: str) -> str:
    """The run's record as the JSON text that goes to the remote."""
    marks = ",".join("?" * len(KINDS))
    rows = ledger.db.execute(
        f"SELECT {COLUMNS} FROM journal WHERE subject = ? AND kind IN ({marks}) ORDER BY seq",
        (run_id, *KINDS)).fetchall()
    entries = [dict(zip(_FIELDS, row)) for row in rows]
    return json.dumps({"format": FORMAT, "version": VERSION, "run_id": run_id, "entries": entries},
                      ensure_ascii=False, indent=1) + "\n"


def parse_record(text: str, where: str) -> tuple[str, list[dict[str, Any]]]:
    """(run id, entries) of a record; InputError naming ``where`` and what is wrong."""
    from .ledger_canon import entry_id

    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{where}: not a run record: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{where}: not a run record (no \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise InputError(f"{where}: run record version {doc.get('version')!r}; this gitgov reads "
                         f"version {VERSION} (upgrade gitgov)")
    run_id, entries = doc.get("run_id"), doc.get("entries")
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise InputError(f"{where}: \"run_id\" is not a run id: {run_id!r}")
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{where}: \"entries\" must be a non-empty list")
    for n, entry in enumerate(entries, 1):
        problem = _entry_problem(entry, run_id)
        if not problem and entry_id(*(entry[k] for k in _FIELDS if k != "id")) != entry["id"]:
            problem = "its content does not match its id (changed or damaged on the way)"
        if problem:
            raise InputError(f"{where}: entry {n}: {problem}")
    if entries[0]["kind"] != "run_started":
        raise InputError(f"{where}: the first entry must be the run's run_started")
    return run_id, entries


def _entry_problem(entry: Any, run_id: str) -> str:
    if not isinstance(entry, dict) or set(entry) != set(_FIELDS):
        return f"must have exactly the fields {', '.join(_FIELDS)}"
    if type(entry["seq"]) is not int or not all(isinstance(entry[k], str) for k in _FIELDS[1:]):
        return "\"seq\" must be an integer and every other field text"
    if entry["kind"] not in KINDS:
        return f"kind {entry['kind']!r} is not part of a run record ({', '.join(KINDS)})"
    if entry["subject"] != run_id:
        return f"its subject {entry['subject']!r} is not the run {run_id}"
    try:
        payload = json.loads(entry["payload"])
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return "its payload is not a JSON object"
    return ""


def import_record(ledger: "Ledger", run_id: str, entries: list[dict[str, Any]], origin: str) -> bool:
    """Append a parsed record to this ledger in one transaction; False if the run is here already."""
    from .ledger import Entry

    recorded = ledger.append(
        (Entry(kind=e["kind"], subject=run_id, actor=e["actor"], source=e["source"], time=e["time"],
               payload={**json.loads(e["payload"]), "imported": {"from": origin, "id": e["id"]}})
         for e in entries),
        unless=("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)))  # a pull running beside this one
    return bool(recorded)


def push_records(store: "ObjectStore", ledger: "Ledger") -> tuple[int, int]:
    """Send the records of this clone's ended runs that the remote lacks: (sent, there already)."""
    from . import store_remote

    there = set(store_remote.list_files(store, FOLDER))
    marks = ",".join("?" * len(ENDED))
    ids = [r for (r,) in ledger.db.execute(
        f"SELECT run_id FROM runs WHERE status IN ({marks}) ORDER BY started_seq", ENDED)]
    sent = 0
    for run_id in ids:
        if f"{run_id}.json" not in there:
            store_remote.write_text(store, f"{FOLDER}/{run_id}.json", record_of(ledger, run_id))
            sent += 1
    return sent, len(ids) - sent


def pull_records(store: "ObjectStore", ledger: "Ledger", ref: str | None = None) -> list[str]:
    """Import the remote's records of runs this ledger lacks: every one, or the one ``ref``
    names (an id, a unique id prefix, or a run name: the newest run of that name).
    Returns the ids imported."""
    from . import store_remote

    names = [n for n in store_remote.list_files(store, FOLDER)
             if n.endswith(".json") and _RUN_ID.fullmatch(n[:-5])]
    known = {r for (r,) in ledger.db.execute("SELECT run_id FROM runs")}
    unknown = [n for n in names if n[:-5] not in known]
    try:  # every record is read and checked before the first is imported: all or none
        if ref is None:
            records = [_fetch(store, name) for name in unknown]
        else:
            records = [_named(store, names, unknown, ref)]
    except InputError as exc:
        raise InputError(f"{exc}; no run record was imported") from None
    return [run_id for run_id, entries in records
            if import_record(ledger, run_id, entries, store.remote_uri)]


def _fetch(store: "ObjectStore", name: str) -> tuple[str, list[dict[str, Any]]]:
    from . import store_remote

    where = store_remote.uri_of(store, f"{FOLDER}/{name}")
    run_id, entries = parse_record(store_remote.read_text(store, f"{FOLDER}/{name}"), where)
    if run_id != name[:-5]:
        raise InputError(f"{where}: holds the record of run {run_id}, not of {name[:-5]}")
    return run_id, entries


def _named(store: "ObjectStore", names: list[str], unknown: list[str], ref: str
           ) -> tuple[str, list[dict[str, Any]]]:
    """The record ``ref`` names: by id or id prefix, else the newest run of that name (which
    reads the records this ledger lacks)."""
    from .run_query import MIN_PREFIX

    prefix = ref.lower()
    by_id = [n for n in names if n.startswith(prefix)] if len(ref) >= MIN_PREFIX else []
    if len(by_id) > 1:
        ids = ", ".join(n[:12] for n in by_id[:4])
        raise InputError(f"run id prefix '{ref}' is ambiguous on {store.remote_uri}: {ids}; "
                         "give more characters")
    if by_id:
        return _fetch(store, by_id[0])
    named = [rec for rec in (_fetch(store, n) for n in unknown)
             if json.loads(rec[1][0]["payload"]).get("run_name") == ref]
    if not named:
        raise InputError(f"no run matches '{ref}' here or on {store.remote_uri} (an id, an id "
                         f"prefix of at least {MIN_PREFIX} characters, or a run name)")
    return max(named, key=lambda rec: rec[1][0]["time"])
