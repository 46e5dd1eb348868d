"""`gitgov erase`: the subject's rows go, the ledger keeps a keyed token, and no plain value is left."""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import git, gitgov, write

POLICY = """\
[datasets.customers]
paths = ["data/raw/customers*.csv"]

[datasets.orders]
paths = ["data/raw/orders*.jsonl"]

[datasets.events]
paths = ["data/events/*.parquet"]

[watch]
debounce_ms = 50

[plugins]
enable = ["retention", "secrets", "alerts"]
"""
VALUE = "ada.lovelace@example.com"
CUSTOMERS = f"id,email,plan\n1,{VALUE},pro\n2,alan@example.com,free\n3,{VALUE},free\n"
ORDERS = (json.dumps({"order": 7, "email": VALUE}) + "\n" + json.dumps({"order": 8, "email": "alan@example.com"})
          + "\n")


@pytest.fixture
def erepo(tmp_path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    write(root, "gitgov.toml", POLICY)
    gitgov(root, "init", check=True)
    write(root, "data/raw/customers.csv", CUSTOMERS)
    write(root, "data/raw/orders.jsonl", ORDERS)
    (root / "data/events").mkdir(parents=True)
    pq.write_table(pa.table({"email": [VALUE, "alan@example.com"], "n": [1, 2]}), root / "data/events/e.parquet")
    return root


def rows(root: Path, sql: str, args=()) -> list[tuple]:
    with sqlite3.connect(root / ".gitgov" / "ledger.db") as db:
        return db.execute(sql, args).fetchall()


def files_holding(folder: Path, needle: bytes) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes())


def test_erase_removes_the_subject_and_leaves_no_plain_value_behind(erepo):
    import pyarrow.parquet as pq
    from gitgov.core.git import Repo
    from gitgov.core.store import ObjectStore

    git(erepo, "add", "gitgov.toml", ".gitignore", "data/raw/customers.csv")
    git(erepo, "commit", "-q", "--no-verify", "-m", "customers")
    commit = git(erepo, "rev-parse", "--short=12", "HEAD").stdout.strip()
    digest = ObjectStore.for_repo(Repo.discover(erepo)).put_bytes(CUSTOMERS.encode()).sha256  # a run output copy
    assert gitgov(erepo, "watch", "start", "--wait").returncode == 0
    try:
        with open(erepo / ".gitgov" / "watch.log", "a") as log:  # as a plugin's message might quote it
            log.write(f"2024-01-01T00:00:00Z ERROR something about {VALUE}\n")
        proc = gitgov(erepo, "erase", "--subject", f"email={VALUE}")
        assert proc.returncode == 0, proc.stderr
        time.sleep(1)  # the daemon records the rewritten files as new versions meanwhile
    finally:
        assert gitgov(erepo, "watch", "stop").returncode == 0
    out = proc.stdout
    assert "data/raw/customers.csv: removed 2 of 3 row(s)" in out
    assert "data/raw/orders.jsonl: removed 1 of 2 row(s)" in out
    assert "data/events/e.parquet: removed 1 of 2 row(s)" in out
    assert f"object store: purged object {digest[:12]} (not referenced by a recorded run)" in out
    assert "scrubbed the value from .gitgov/watch.log" in out
    assert f"Git history: 1 commit(s) still hold the subject ({commit}) in data/raw/customers.csv" in out
    assert "git filter-repo --replace-text" in out and VALUE not in out
    assert (erepo / "data/raw/customers.csv").read_text() == "id,email,plan\n2,alan@example.com,free\n"
    assert (erepo / "data/raw/orders.jsonl").read_text() == json.dumps({"order": 8, "email": "alan@example.com"}) + "\n"
    assert pq.read_table(erepo / "data/events/e.parquet").column("email").to_pylist() == ["alan@example.com"]

    (token, payload), = rows(erepo, "SELECT subject, payload FROM journal WHERE kind = 'erasure'")
    from gitgov.core import erase
    key = erase.token_key(Repo.discover(erepo), create=False)
    assert token == erase.subject_token(key, "email", VALUE) and token.startswith("hmac-sha256:")
    assert json.loads(payload)["rows_removed"] == 4
    assert len(rows(erepo, "SELECT 1 FROM journal WHERE kind = 'data_disposed' AND payload LIKE ?",
                    (f"%{token}%",))) == 3

    needle = VALUE.encode()
    assert files_holding(erepo / ".gitgov", needle) == []  # ledger, -wal, logs, objects, cache, state
    assert files_holding(erepo / "data", needle) == []
    assert gitgov(erepo, "verify").returncode == 0


def test_a_dry_run_changes_and_records_nothing(erepo):
    before = (erepo / "data/raw/customers.csv").read_bytes()
    proc = gitgov(erepo, "erase", "--subject", f"email={VALUE}", "--dataset", "customers", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("gitgov: erasure of email=(the value given) (dry run: nothing changed)\n")
    assert "data/raw/customers.csv: would remove 2 of 3 row(s)" in proc.stdout
    assert "orders.jsonl" not in proc.stdout  # --dataset limits the search
    assert (erepo / "data/raw/customers.csv").read_bytes() == before
    assert rows(erepo, "SELECT count(*) FROM journal WHERE kind IN ('erasure', 'data_disposed')") == [(0,)]
    from gitgov.core.erase import ERASURE_KEY
    from gitgov.core.git import Repo
    from gitgov.core.keys import KeyStore
    assert ERASURE_KEY not in KeyStore.for_repo(Repo.discover(erepo)).datasets()  # not even a key is made


@pytest.mark.parametrize("args, message", [
    (["--subject", "email"], "gitgov: --subject: expected COLUMN=VALUE, e.g. --subject email=ada@example.com"),
    (["--subject", "=x"], "gitgov: --subject: expected COLUMN=VALUE, e.g. --subject email=ada@example.com"),
    (["--subject", "email=x", "--dataset", "nope"],
     "gitgov: no dataset 'nope' in gitgov.toml (datasets: customers, orders, events)"),
    (["--subject", "emial=x"],  # a typo must not go on to search objects and history for "x"
     "gitgov: --subject emial=...: no governed file has a column 'emial' (no dataset declares its columns)"),
])
def test_bad_requests_are_refused_with_one_line(erepo, args, message):
    proc = gitgov(erepo, "erase", *args)
    assert proc.returncode == 2
    assert proc.stderr.strip() == message
    assert rows(erepo, "SELECT count(*) FROM journal WHERE kind = 'erasure'") == [(0,)]
    from gitgov.core.erase import ERASURE_KEY
    from gitgov.core.git import Repo
    from gitgov.core.keys import KeyStore
    assert ERASURE_KEY not in KeyStore.for_repo(Repo.discover(erepo)).datasets()  # no key made either


def test_objects_go_for_the_subjects_row_not_for_any_bytes_of_a_short_value(erepo, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from gitgov.core.git import Repo
    from gitgov.core.store import ObjectStore

    store = ObjectStore.for_repo(Repo.discover(erepo))
    pq.write_table(pa.table({"id": ["7", "8"], "plan": ["pro", "free"]}), tmp_path / "copy.parquet")
    pq.write_table(pa.table({"id": ["8"], "note": ["7 apples"]}), tmp_path / "other.parquet")
    copy, other = store.put(tmp_path / "copy.parquet").sha256, store.put(tmp_path / "other.parquet").sha256
    model = store.put_bytes(b"weights 7 7 7").sha256  # no table: "7" is too short to say
    proc = gitgov(erepo, "erase", "--subject", "id=7")
    assert proc.returncode == 0, proc.stderr
    assert f"object store: purged object {copy[:12]} (not referenced by a recorded run)" in proc.stdout
    for kept in (other, model):
        assert (f"warning: object {kept[:12]} (not referenced by a recorded run) holds the value, "
                "but not in a row's column 'id'; kept") in proc.stdout
    assert not store.has(copy) and store.has(other) and store.has(model)
    (payload,), = rows(erepo, "SELECT payload FROM journal WHERE kind = 'erasure'")
    assert sorted(json.loads(payload)["objects_kept"]) == sorted([other, model])


def test_a_file_that_cannot_be_read_stops_the_erasure_before_any_change(erepo):
    write(erepo, "data/raw/orders_bad.jsonl", '{"order": 9, "email": "x"}\nnot json\n')
    before = (erepo / "data/raw/customers.csv").read_bytes()
    proc = gitgov(erepo, "erase", "--subject", f"email={VALUE}")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("gitgov: data/raw/orders_bad.jsonl: line 2: not valid JSON")
    assert (erepo / "data/raw/customers.csv").read_bytes() == before
    # A CSV whose quote never closes holds the subject inside one value: it is no row to
    # remove, and the erasure would be recorded while the address stays in the file.
    (erepo / "data/raw/orders_bad.jsonl").unlink()
    write(erepo, "data/raw/customers_more.csv", f'id,email,plan\n4,"broken,free\n5,{VALUE},pro\n')
    proc = gitgov(erepo, "erase", "--subject", f"email={VALUE}")
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr == ("gitgov: data/raw/customers_more.csv: line 2: a quoted value opened on this "
                           "line is never closed; repair the file first\n")
    assert (erepo / "data/raw/customers.csv").read_bytes() == before
    assert rows(erepo, "SELECT count(*) FROM journal WHERE kind = 'erasure'") == [(0,)]
    # A gzip-compressed export: its rows cannot be removed in place, and it was passed over.
    import gzip

    (erepo / "data/raw/customers_more.csv").unlink()
    policy = erepo / "gitgov.toml"
    policy.write_text(policy.read_text().replace('"data/raw/customers*.csv"]',
                                                 '"data/raw/customers*.csv", "data/raw/customers*.csv.gz"]'))
    write(erepo, "data/raw/customers_old.csv.gz", gzip.compress(CUSTOMERS.encode()))
    proc = gitgov(erepo, "erase", "--subject", f"email={VALUE}")
    assert proc.returncode == 2 and proc.stderr.startswith(
        "gitgov: data/raw/customers_old.csv.gz: gzip-compressed; rows of it cannot be read or removed")
    assert (erepo / "data/raw/customers.csv").read_bytes() == before
    assert rows(erepo, "SELECT count(*) FROM journal WHERE kind = 'erasure'") == [(0,)]


# ---- subjects found through protected columns ---------------------------------------------

PEOPLE_POLICY = """\
[datasets.people]
paths = ["data/people*.csv", "data/people*.parquet", "data/people*.jsonl"]
primary_key = "id"
classification = "confidential"
owner = "ada@example.com"
consumers = ["lee@example.com"]

[datasets.people.columns.email]
protect = "encrypt"

[datasets.people.columns.phone]
protect = "encrypt"
joinable = true

[datasets.people.columns.ref]
protect = "pseudonymize"

[datasets.people.columns.name]
protect = "mask"

[plugins]
enable = ["privacy", "retention", "secrets", "alerts"]
"""
PEOPLE = [  # id, email, phone, ref, name; Ada (the subject) has rows 1 and 3
    ("1", "ada@example.com", "+44 20 7946 0001", "R-ADA", "Ada Lovelace"),
    ("2", "alan@example.com", "+44 20 7946 0002", "R-ALAN", "Alan Turing"),
    ("3", "ada@example.com", "+44 20 7946 0001", "R-ADA", "Ada Lovelace"),
    ("4", "grace@example.com", "+44 20 7946 0004", "R-GRACE", "Grace Hopper"),
]
COLUMNS = ("id", "email", "phone", "ref", "name")
PEOPLE_FILES = ("data/people.csv", "data/people.parquet", "data/people.jsonl")


def _people_repo(tmp_path, policy: str) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    write(root, "gitgov.toml", policy)
    gitgov(root, "init", check=True)
    write(root, "data/people.csv", "\n".join(",".join(r) for r in [COLUMNS, *PEOPLE]) + "\n")
    columns = list(zip(*PEOPLE))
    pq.write_table(pa.table({"id": [int(i) for i in columns[0]],
                             **{c: list(v) for c, v in zip(COLUMNS[1:], columns[1:])}}),
                   root / "data/people.parquet")
    write(root, "data/people.jsonl", "".join(json.dumps({"id": int(r[0]), **dict(zip(COLUMNS[1:], r[1:]))}) + "\n"
                                             for r in PEOPLE))
    for rel in PEOPLE_FILES:
        gitgov(root, "protect", rel, "--in-place", check=True)
        assert b"ada@example.com" not in (root / rel).read_bytes()
    return root


@pytest.fixture(scope="module")
def people_template(tmp_path_factory) -> Path:
    return _people_repo(tmp_path_factory.mktemp("people"), PEOPLE_POLICY)


@pytest.fixture
def prepo(people_template, tmp_path) -> Path:
    """Three files of one dataset whose email, phone and ref columns are protected (a fresh
    copy of one repository made per module: protecting them takes a few gitgov runs)."""
    import shutil

    root = tmp_path / "repo"
    shutil.copytree(people_template, root, symlinks=True)
    return root


def revealed(root: Path, rel: str) -> list[tuple]:
    """(id, email, phone, ref) of each row, decrypted by `gitgov reveal`: every value still authenticates."""
    import csv
    import io

    proc = gitgov(root, "reveal", rel, check=True)
    return [(r["id"], r["email"], r["phone"], r["ref"]) for r in csv.DictReader(io.StringIO(proc.stdout))]


def snapshot(root: Path) -> dict[str, bytes]:
    return {rel: (root / rel).read_bytes() for rel in PEOPLE_FILES}


@pytest.mark.parametrize("column, value", [
    ("email", "ada@example.com"),    # AES-GCM, random nonce: found by decrypting the column
    ("phone", "+44 20 7946 0001"),   # AES-SIV, joinable: found by encrypting the value
    ("ref", "R-ADA"),                # pseudonym: found by the keyed token of the value
])
def test_the_subject_is_found_through_a_protected_column(prepo, column, value):
    before = {rel: revealed(prepo, rel) for rel in PEOPLE_FILES}
    alan, grace = before["data/people.csv"][1], before["data/people.csv"][3]
    unchanged = snapshot(prepo)
    dry = gitgov(prepo, "erase", "--subject", f"{column}={value}", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    for rel in PEOPLE_FILES:
        assert f"{rel}: would remove 2 of 4 row(s)" in dry.stdout
    assert snapshot(prepo) == unchanged

    proc = gitgov(prepo, "erase", "--subject", f"{column}={value}")
    assert proc.returncode == 0, proc.stderr
    for rel in PEOPLE_FILES:
        assert f"{rel}: removed 2 of 4 row(s)" in proc.stdout
        assert revealed(prepo, rel) == [alan, grace], rel  # the others intact, and they still decrypt
    (payload,), = rows(prepo, "SELECT payload FROM journal WHERE kind = 'erasure'")
    assert json.loads(payload)["rows_removed"] == 6 and value not in payload
    assert len(rows(prepo, "SELECT 1 FROM journal WHERE kind = 'data_disposed'")) == 3


def test_a_masked_column_is_refused_with_one_line(prepo):
    unchanged = snapshot(prepo)
    proc = gitgov(prepo, "erase", "--subject", "name=Ada Lovelace")
    assert proc.returncode == 2
    assert proc.stderr == ("gitgov: --subject name=...: column 'name' of dataset 'people' is masked "
                           "(protect = \"mask\"), so its rows cannot be found by it; erase by another "
                           "column, e.g. --subject id=...\n")
    assert snapshot(prepo) == unchanged
    assert rows(prepo, "SELECT count(*) FROM journal WHERE kind IN ('erasure', 'data_disposed')") == [(0,)]


@pytest.mark.parametrize("column, value", [("email", "ada@example.com"), ("ref", "R-ADA")])
def test_without_the_key_nothing_is_changed_or_recorded(prepo, column, value):
    import shutil

    shutil.move(prepo / ".gitgov" / "keys", prepo.parent / "keys-elsewhere")
    unchanged = snapshot(prepo)
    proc = gitgov(prepo, "erase", "--subject", f"{column}={value}")
    assert (proc.returncode, proc.stdout, proc.stderr.count("\n")) == (2, "", 1), proc.stderr
    assert proc.stderr.startswith(f"gitgov: --subject {column}=...: data/people.csv column '{column}': "
                                  "missing key: no master key"), proc.stderr
    assert snapshot(prepo) == unchanged
    assert rows(prepo, "SELECT count(*) FROM journal WHERE kind IN ('erasure', 'data_disposed')") == [(0,)]
    assert not (prepo / ".gitgov" / "keys").exists()  # not even the token key was made


def test_whoever_may_not_reveal_the_column_may_not_erase_by_it(prepo):
    import os

    unchanged = snapshot(prepo)
    as_lee = {**os.environ, "GIT_AUTHOR_NAME": "Lee", "GIT_AUTHOR_EMAIL": "lee@example.com",
              "GIT_COMMITTER_NAME": "Lee", "GIT_COMMITTER_EMAIL": "lee@example.com"}
    # with the access plugin on, the access table is enforced
    policy = (prepo / "gitgov.toml").read_text().replace('enable = ["privacy",', 'enable = ["privacy", "access",')
    write(prepo, "gitgov.toml", policy)
    proc = gitgov(prepo, "erase", "--subject", "email=ada@example.com", env=as_lee)
    assert proc.returncode == 1 and proc.stdout == "" and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("gitgov: --subject email=...: data/people.csv column 'email' is protected, "
                                  "and finding the subject's rows in it means revealing it: reveal refused: ")
    assert snapshot(prepo) == unchanged
    assert rows(prepo, "SELECT count(*) FROM journal WHERE kind IN ('erasure', 'data_disposed')") == [(0,)]
    assert rows(prepo, "SELECT actor FROM journal WHERE kind = 'data_reveal_refused'") == [("Lee <lee@example.com>",)]
    assert gitgov(prepo, "erase", "--subject", "email=ada@example.com").returncode == 0  # the owner may


@pytest.mark.parametrize("column, value, gone", [
    ("email", "ada@example.com", {"1", "3"}),  # found through the encrypted column
    ("id", "3", {"3"}),                         # a plain column: the rows after it move up all the same
])
def test_without_a_primary_key_the_rows_that_stay_still_decrypt(tmp_path, column, value, gone):
    prepo = _people_repo(tmp_path, PEOPLE_POLICY.replace('primary_key = "id"\n', ""))
    before = {rel: revealed(prepo, rel) for rel in PEOPLE_FILES}
    first_line = (prepo / "data/people.csv").read_text().splitlines()[1]
    proc = gitgov(prepo, "erase", "--subject", f"{column}={value}")
    assert proc.returncode == 0, proc.stderr
    for rel in PEOPLE_FILES:  # each value is bound to its row number, which changed
        assert revealed(prepo, rel) == [r for r in before[rel] if r[0] not in gone], rel
    if "1" not in gone:  # a row that did not move keeps its bytes
        assert (prepo / "data/people.csv").read_text().splitlines()[1] == first_line


def test_a_column_whose_keys_were_shredded_has_nothing_left_to_erase(prepo):
    """Crypto-shredding already made every value unreadable: erase says so and goes on."""
    from gitgov.core.git import Repo
    from gitgov.core.keys import KeyStore

    assert KeyStore.for_repo(Repo.discover(prepo)).shred("people")  # as `gitgov keys shred people` does
    before = snapshot(prepo)
    proc = gitgov(prepo, "erase", "--subject", "email=ada@example.com")
    assert proc.returncode == 0, proc.stderr
    for rel in PEOPLE_FILES:
        assert (f"{rel}: column 'email' is encrypted with shredded keys only: nothing in it can be "
                "read again") in proc.stdout
    assert snapshot(prepo) == before  # nothing could be matched, so nothing was rewritten
    erasure = json.loads(rows(prepo, "SELECT payload FROM journal WHERE kind = 'erasure'")[0][0])
    assert erasure["files_shredded"] == sorted(PEOPLE_FILES) and erasure["rows_removed"] == 0


def test_erase_before_init_says_so_and_leaves_nothing(tmp_path):
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    write(root, "gitgov.toml", POLICY)
    write(root, "data/raw/customers.csv", CUSTOMERS)
    proc = gitgov(root, "erase", "--subject", f"email={VALUE}")
    assert proc.returncode == 2 and proc.stderr.strip().endswith("run `gitgov init`")
    assert not (root / ".gitgov").exists()  # no erasure key made for a request that cannot be recorded
    assert (root / "data/raw/customers.csv").read_text() == CUSTOMERS


def test_only_encrypted_datasets_that_can_hold_the_subject_are_offered_for_shredding(erepo):
    """Shredding destroys every version of a dataset: it is no advice for one without the column."""
    policy = POLICY.replace("[watch]", '[datasets.medical]\npaths = ["data/medical/*.csv"]\n'
                            'encrypt = "file"\n\n[datasets.vault]\npaths = ["data/vault/*.csv"]\n'
                            'encrypt = "file"\n\n[datasets.vault.columns.email]\npii = "email"\n\n[watch]')
    write(erepo, "gitgov.toml", policy)
    write(erepo, "data/medical/m.csv", "patient,reading\n1,7\n")
    proc = gitgov(erepo, "erase", "--subject", f"email={VALUE}", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "gitgov keys shred vault" in proc.stdout  # it declares the column
    assert "medical" not in proc.stdout


def test_rows_that_refer_to_the_removed_ones_are_pointed_out(erepo):
    """Another dataset's foreign key into the rows erased would block its next commit."""
    write(erepo, "gitgov.toml", POLICY.replace("[watch]", '[datasets.visits]\npaths = ["data/visits.csv"]\n\n'
                                                          '[datasets.visits.rules]\n'
                                                          'foreign_keys = { customer = "customers.id" }\n\n[watch]'))
    write(erepo, "data/visits.csv", "customer,day\n1,2024-01-01\n2,2024-01-02\n")
    proc = gitgov(erepo, "erase", "--subject", f"email={VALUE}", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert ("  warning: dataset 'visits' refers to 'customers' by its column 'customer' (foreign key "
            "customers.id): its rows of this subject now point to removed rows; erase them there too "
            "(--subject customer=...)") in proc.stdout
