"""PII detection, the commit-time check, protect and reveal, with real git and the real CLI."""
from __future__ import annotations

import json
import os
import random
import shutil
import stat

import pytest

from conftest import git, gitgov, write
from gitgov.core.errors import InputError
from gitgov.plugins.privacy.detectors import BUILTIN, iban_ok, luhn

POLICY = """\
[datasets.contacts]
paths = ["data/contacts*.csv", "data/contacts*.parquet"]
primary_key = "customer_id"

[plugins]
timeout = 30
disable = ["validation"]  # privacy on its own: these files carry no validation rules
"""
DECLARE = """
[datasets.contacts.columns.contact]
pii = "email"
protect = "encrypt"

[datasets.contacts.columns.phone]
protect = "mask"

[datasets.contacts.columns.card]
protect = "drop"
"""


def contacts(n: int = 120, seed: int = 7) -> str:
    rnd = random.Random(seed)
    lines = ["customer_id,name,contact,phone,card,plan"]
    for i in range(n):
        lines.append(f"C{i:05d},Person {i},person{i}@example.com,+44 20 7946 {rnd.randint(1000, 9999)},"
                     f"4111 1111 1111 1111,{rnd.choice(['free', 'pro'])}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def priv_template(tmp_path_factory):
    """One initialized repository with the policy committed, copied for each test."""
    base = tmp_path_factory.mktemp("priv")
    path = base / "repo"
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "HOME": str(base),
           "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
           "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com"}
    git(base, "init", "-q", "-b", "main", str(path), env=env)
    write(path, "gitgov.toml", POLICY)
    gitgov(path, "init", check=True, env=env)
    gitgov(path, "crypt", "setup", check=True, env=env)  # the master key (init makes it once wired in)
    git(path, "add", "gitgov.toml", ".gitignore", env=env)
    git(path, "commit", "-q", "-m", "policy", env=env)
    return path


@pytest.fixture
def priv_repo(priv_template, tmp_path):
    path = tmp_path / "repo"
    shutil.copytree(priv_template, path, symlinks=True)
    return path


def detector(kind):
    return next(d for d in BUILTIN if d.kind == kind)


@pytest.mark.parametrize("kind, good, bad", [
    ("email", ["a.b+c@example.co.uk"], ["not an email", "a@b", "user@@x.org"]),
    ("phone", ["+1 (555) 123-4567", "030 1234567", "+44 20 7946 0958"], ["2024-02-19", "19.03.2021", "192.168.0.1", "12345", "C00001"]),
    ("card", ["4111 1111 1111 1111", "5500-0000-0000-0004"], ["4111 1111 1111 1112", "1234"]),
    ("ssn", ["123-45-6789"], ["000-12-3456", "666-12-3456", "123-00-6789"]),
    ("iban", ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"], ["DE89 3704 0044 0532 0130 01"]),
    ("ipv4", ["192.168.0.1", "8.8.8.8"], ["256.1.1.1", "1.2.3"]),
    ("ipv6", ["2001:db8::1", "::1", "fe80::1ff:fe23:4567:890a"], ["12:34", "not:an:ip"]),
])
def test_builtin_detectors(kind, good, bad):
    import pyarrow as pa
    from gitgov.plugins.privacy.scan import classify

    for values, expected in ((good, 1.0), (bad, None)):
        scans = classify(pa.table({"col": values}), [detector(kind)])
        best = scans[0].best()
        assert (best.confidence if best else None) == expected, (kind, values)


def test_checksums():
    assert luhn("4111111111111111") and not luhn("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")


def test_dates_of_birth_need_the_column_name():
    import pyarrow as pa
    from gitgov.plugins.privacy.scan import classify

    dates = ["1980-04-12", "1975-11-30", "2001-01-05"]
    scans = {s.column: s.best() for s in classify(pa.table({"date_of_birth": dates, "signup": dates}), BUILTIN)}
    assert scans["date_of_birth"].kind == "dob" and scans["signup"] is None


def test_confidence_is_the_share_of_matching_sampled_values():
    import pyarrow as pa
    from gitgov.plugins.privacy.scan import classify

    values = [f"u{i}@example.com" for i in range(97)] + ["n/a", "unknown", "-"] + [""] * 10
    best = classify(pa.table({"contact": values}), BUILTIN)[0].best()
    assert (best.kind, best.matched, best.sampled, best.percent) == ("email", 97, 100, "97%")


def test_a_large_csv_is_classified_from_line_runs_spread_over_it():
    from gitgov.plugins.privacy.scan import SAMPLE_FROM_BYTES, read_sample

    rows = [f"{i},user{i}@example.com,{i % 7}" for i in range(SAMPLE_FROM_BYTES // 20)]
    data = ("id,contact,n\n" + "\n".join(rows) + "\n").encode()
    table = read_sample(data, "csv", "big.csv", 1000)
    ids = [int(v) for v in table.column("id").to_pylist()]
    assert 900 <= table.num_rows <= 1100 and ids == sorted(set(ids))  # whole rows, no repeats
    assert ids[0] == 0 and ids[-1] > len(rows) * 0.98  # from the first rows to the last ones
    assert all(v == f"user{i}@example.com" for i, v in zip(ids, table.column("contact").to_pylist()))
    quoted = data.replace(b"user1@", b'"user1"@', 1)  # quotes: a line break may not end a row
    assert read_sample(quoted, "csv", "big.csv", 1000).num_rows == 1000  # read whole, then sampled
    # A row without its fields in every run: the error names the file's line, not the sample's.
    half = len(rows) // 2
    first = next(i for i in range(half, len(rows)) if i % 5 == 4)
    ragged = ("id,contact,n\n" + "\n".join(str(i) if i >= half and i % 5 == 4 else r
                                            for i, r in enumerate(rows)) + "\n").encode()
    with pytest.raises(InputError) as err:
        read_sample(ragged, "csv", "big.csv", 1000)
    assert str(err.value) == f"big.csv: cannot read as csv: line {first + 2}: 1 field where the header has 3"


def test_undeclared_pii_blocks_the_commit_with_how_to_declare_it(priv_repo):
    write(priv_repo, "data/contacts.csv", contacts())
    git(priv_repo, "add", "data/contacts.csv")
    proc = git(priv_repo, "commit", "-m", "contacts", check=False)
    assert proc.returncode == 1
    assert ("privacy/pii-undeclared: column 'contact' looks like email addresses (100% of 120 sampled "
            "values); declare it in gitgov.toml with protect = encrypt | pseudonymize | mask | drop | "
            "allow, e.g. [datasets.contacts.columns.contact] protect = \"pseudonymize\"") in proc.stderr
    assert "column 'phone' looks like phone numbers" in proc.stderr
    assert "column 'card' looks like payment card numbers" in proc.stderr
    assert "'plan'" not in proc.stderr and "'name'" not in proc.stderr


def test_declared_then_protected_commit_passes_and_git_holds_no_plain_value(priv_repo):
    write(priv_repo, "data/contacts.csv", contacts())
    with open(priv_repo / "gitgov.toml", "a") as f:
        f.write(DECLARE)
    git(priv_repo, "add", "gitgov.toml", "data/contacts.csv")
    blocked = git(priv_repo, "commit", "-m", "declared only", check=False)
    assert blocked.returncode == 1
    assert "column 'contact' is declared protect = \"encrypt\" but 120 of 120 sampled values are not encrypted" in blocked.stderr
    assert "column 'card' is declared protect = \"drop\" but is still in the file" in blocked.stderr
    (priv_repo / "data/contacts.csv").chmod(0o664)
    out = gitgov(priv_repo, "protect", "data/contacts.csv", "--in-place", check=True)
    assert "contact (encrypt), phone (mask), card (drop)" in out.stdout
    assert stat.S_IMODE((priv_repo / "data/contacts.csv").stat().st_mode) == 0o664  # as it was
    text = (priv_repo / "data/contacts.csv").read_text()
    header, first = text.splitlines()[:2]
    assert header.replace('"', "") == "customer_id,name,contact,phone,plan"
    assert "p***@example.com" not in first and '"+** ** **** **' in first and "gg1:enc:" in first
    git(priv_repo, "add", "data/contacts.csv")
    git(priv_repo, "commit", "-q", "-m", "protected")
    reachable = git(priv_repo, "rev-list", "--objects", "--all").stdout.split()
    assert "person7@example.com" not in git(priv_repo, "show", "HEAD:data/contacts.csv").stdout
    assert len(reachable) > 3
    revealed = gitgov(priv_repo, "reveal", "data/contacts.csv", "--limit", "3", check=True)
    assert "person2@example.com" in revealed.stdout and revealed.stdout.count("\n") == 4
    log = gitgov(priv_repo, "log", "--json", "-n", "3").stdout
    assert "data_revealed" in log and "person2@example.com" not in log


def test_a_dropped_column_is_not_asked_for_by_the_validation_rules(priv_repo):
    """protect = "drop" removes the column; validation, on as well, must not miss it."""
    policy = (priv_repo / "gitgov.toml").read_text().replace('disable = ["validation"]', "")
    write(priv_repo, "gitgov.toml", policy + DECLARE)
    write(priv_repo, "data/contacts.csv", contacts(5))
    dropped = gitgov(priv_repo, "check", "--json", "data/contacts.csv")
    assert json.loads(dropped.stdout)["files"][0]["verdict"] == "pass", dropped.stdout
    assert "4111 1111" not in gitgov(priv_repo, "log", "--json").stdout  # its profile is masked
    gitgov(priv_repo, "protect", "data/contacts.csv", "--in-place", check=True)
    git(priv_repo, "add", "gitgov.toml", "data/contacts.csv")
    proc = git(priv_repo, "commit", "-m", "protected", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "card.missing" not in proc.stderr
    checked = gitgov(priv_repo, "check", "--force", "data/contacts.csv")
    assert checked.returncode == 0 and "PASS" in checked.stdout, checked.stdout


def test_protect_into_a_missing_folder_is_one_line_and_writes_nothing(priv_repo, tmp_path):
    write(priv_repo, "data/contacts.csv", contacts(5))
    with open(priv_repo / "gitgov.toml", "a") as f:
        f.write(DECLARE)
    before = sorted(p.name for p in (priv_repo / "data").iterdir())
    keys = gitgov(priv_repo, "keys", "list", "--json", check=True).stdout
    target = tmp_path / "no" / "p.csv"
    out = gitgov(priv_repo, "protect", "data/contacts.csv", "-o", str(target))
    assert out.returncode == 2 and out.stderr == f"gitgov: cannot write {target}: No such file or directory\n"
    (tmp_path / "a-file").write_text("")
    under_a_file = tmp_path / "a-file" / "p.csv"
    out = gitgov(priv_repo, "protect", "data/contacts.csv", "-o", str(under_a_file))
    assert out.returncode == 2 and out.stderr == f"gitgov: cannot write {under_a_file}: Not a directory\n"
    assert sorted(p.name for p in (priv_repo / "data").iterdir()) == before
    assert gitgov(priv_repo, "keys", "list", "--json", check=True).stdout == keys  # no key minted
    if os.path.exists("/dev/full"):  # every write fails as on a full disk
        out = gitgov(priv_repo, "protect", "data/contacts.csv", "-o", "/dev/full")
        assert out.returncode == 2 and out.stderr.startswith("gitgov: cannot write /dev/full: ")
        assert "No space left on device" in out.stderr and out.stderr.count("\n") == 1


def test_a_header_naming_a_column_twice_is_one_line_for_scan_and_protect(priv_repo):
    write(priv_repo, "data/contacts.csv", "customer_id,contact,contact\nC1,a@example.com,b@example.com\n")
    with open(priv_repo / "gitgov.toml", "a") as f:
        f.write(DECLARE)
    for args in (("scan",), ("protect",)):
        out = gitgov(priv_repo, *args, "data/contacts.csv")
        assert out.returncode == 2 and out.stderr == (
            "gitgov: data/contacts.csv: line 1 (the header) names column 'contact' twice\n")
    assert not (priv_repo / "data/contacts.protected.csv").exists()
    git(priv_repo, "add", "gitgov.toml", "data/contacts.csv")
    proc = git(priv_repo, "commit", "-m", "contacts", check=False)
    assert "plugin-error" not in proc.stderr
    assert "privacy/not-scanned" in proc.stderr and "names column 'contact' twice" in proc.stderr


def test_reveal_errors_are_one_line_exit_2_with_nothing_shown(priv_repo, tmp_path):
    write(priv_repo, "data/contacts.csv", contacts(20))
    with open(priv_repo / "gitgov.toml", "a") as f:
        f.write(DECLARE)
    gitgov(priv_repo, "protect", "data/contacts.csv", "--in-place", check=True)
    path = priv_repo / "data/contacts.csv"
    good = path.read_text()
    lines = good.splitlines()
    cells = [line.split(",") for line in lines]
    cells[3][2], cells[4][2] = cells[4][2], cells[3][2]  # swap two rows' encrypted emails
    path.write_text("\n".join(",".join(c) for c in cells) + "\n")
    out = gitgov(priv_repo, "reveal", "data/contacts.csv")
    assert out.returncode == 2 and out.stdout == "" and out.stderr.count("\n") == 1
    assert "row 4 (customer_id C00002), column 'contact': the value failed to authenticate: it was moved there from row 5" in out.stderr
    cells = [line.split(",") for line in lines]
    cells[3][2] = cells[3][2][:-4] + ("AAAA" if not cells[3][2].endswith('AAAA"') else "BBBB") + '"'
    path.write_text("\n".join(",".join(c) for c in cells) + "\n")
    out = gitgov(priv_repo, "reveal", "data/contacts.csv")
    assert out.returncode == 2 and out.stdout == "" and "it was altered" in out.stderr
    path.write_text(good)
    gitgov(priv_repo, "keys", "shred", "contacts", "--yes", check=True)
    out = gitgov(priv_repo, "reveal", "data/contacts.csv")
    assert out.returncode == 2 and out.stdout == "" and out.stderr.count("\n") == 1
    assert "missing key:" in out.stderr and "shredded" in out.stderr


def test_reveal_follows_the_access_table_and_records_a_refusal(priv_repo, tmp_path):
    write(priv_repo, "data/contacts.csv", contacts(5))
    with open(priv_repo / "gitgov.toml", "a") as f:
        f.write(DECLARE)
    policy = (priv_repo / "gitgov.toml").read_text().replace(
        'primary_key = "customer_id"\n',
        'primary_key = "customer_id"\nclassification = "confidential"\nowner = "ada@example.com"\n'
        'consumers = ["lee@example.com"]\n', 1)
    write(priv_repo, "gitgov.toml", policy)
    gitgov(priv_repo, "protect", "data/contacts.csv", "--in-place", check=True)
    as_lee = {**os.environ, "GIT_AUTHOR_NAME": "Lee", "GIT_AUTHOR_EMAIL": "lee@example.com",
              "GIT_COMMITTER_NAME": "Lee", "GIT_COMMITTER_EMAIL": "lee@example.com"}
    out = gitgov(priv_repo, "reveal", "data/contacts.csv", env=as_lee)  # a consumer may not reveal
    assert out.returncode == 1 and out.stdout == "" and out.stderr.count("\n") == 1
    assert out.stderr.startswith("gitgov: reveal refused: dataset 'contacts' is confidential: its owner and "
                                 "stewards may reveal") and "lee@example.com is its consumer" in out.stderr
    refused = json.loads(gitgov(priv_repo, "log", "--kind", "data_reveal_refused", "--json").stdout)
    assert [(e["subject"], e["actor"]) for e in refused] == [("data/contacts.csv", "Lee <lee@example.com>")]
    out = gitgov(priv_repo, "reveal", "data/contacts.csv", "-o", str(tmp_path / "no" / "plain.csv"))
    assert out.returncode == 2 and "cannot write there" in out.stderr
    (tmp_path / "a-file").write_text("")
    out = gitgov(priv_repo, "reveal", "data/contacts.csv", "-o", str(tmp_path / "a-file" / "plain.csv"))
    assert out.returncode == 2 and out.stderr == (f"gitgov: -o {tmp_path}/a-file/plain.csv: cannot write "
                                                  f"there: {tmp_path}/a-file is a file, not a folder\n")
    assert json.loads(gitgov(priv_repo, "log", "--kind", "data_revealed", "--json").stdout) == []
    out = gitgov(priv_repo, "reveal", "data/contacts.csv", "--limit", "1")  # the owner may
    assert out.returncode == 0 and "person0@example.com" in out.stdout


def test_parquet_keeps_its_schema_and_reveal_restores_types(priv_repo, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(priv_repo / "gitgov.toml", "a") as f:
        f.write('\n[datasets.contacts.columns.score]\nprotect = "encrypt"\n'
                '\n[datasets.contacts.columns.contact]\nprotect = "pseudonymize"\n')
    table = pa.table({"customer_id": ["C1", "C2"], "contact": ["a@x.org", "b@x.org"],
                      "score": pa.array([7, 9], pa.int64()), "amount": pa.array([1.5, 2.5])})
    (priv_repo / "data").mkdir()
    pq.write_table(table, priv_repo / "data/contacts.parquet")
    gitgov(priv_repo, "protect", "data/contacts.parquet", "-o", "data/contacts_p.parquet", check=True)
    protected = pq.read_table(priv_repo / "data/contacts_p.parquet")
    assert protected.column_names == table.column_names
    assert protected.schema.field("amount").type == pa.float64()
    tokens = protected.column("contact").to_pylist()
    assert all(t.startswith("gg1:tok:") for t in tokens) and tokens[0] != tokens[1]
    out = tmp_path / "plain.parquet"
    gitgov(priv_repo, "reveal", "data/contacts_p.parquet", "-o", str(out), check=True)
    assert pq.read_table(out).column("score").to_pylist() == [7, 9]
    assert pq.read_table(out).schema.field("score").type == pa.int64()


def test_hook_register_detectors_adds_a_plugin_detector_to_scan(priv_repo):
    write(priv_repo, "detect_staff.py", '''
from gitgov.core.hookspecs import hookimpl
from gitgov.plugins.privacy.detectors import Detector

@hookimpl
def register_detectors():
    return [Detector("staff_id", "staff numbers", r"ST-[0-9]{6}")]
''')
    with open(priv_repo / "gitgov.toml", "a") as f:
        f.write('\n[plugins.privacy]\nthreshold = 0.9\n')
    text = (priv_repo / "gitgov.toml").read_text().replace("timeout = 30", 'timeout = 30\nlocal = ["detect_staff.py"]')
    (priv_repo / "gitgov.toml").write_text(text)
    write(priv_repo, "data/contacts_staff.csv",
          "customer_id,badge,contact\n" + "".join(f"C{i},ST-{i:06d},x{i}@y.org\n" for i in range(50)))
    out = gitgov(priv_repo, "scan", "data/contacts_staff.csv", "--json")
    assert out.returncode == 1  # undeclared personal data in a dataset
    cols = {c["column"]: c for c in json.loads(out.stdout)[0]["columns"]}
    assert cols["badge"]["kind"] == "staff_id" and cols["badge"]["confidence"] == 1.0
    assert cols["contact"]["kind"] == "email" and cols["customer_id"]["kind"] is None


@pytest.mark.parametrize("body, said", [
    ("raise RuntimeError('detectors are down')", "plugin 'detect_staff' failed in register_detectors"),
    ("return 42", "plugin 'detect_staff' answered register_detectors with a int"),
])
def test_a_detector_plugin_that_fails_blocks_what_it_would_have_looked_at(priv_repo, body, said):
    write(priv_repo, "detect_staff.py", f'''
from gitgov.core.hookspecs import hookimpl

@hookimpl
def register_detectors():
    {body}
''')
    text = (priv_repo / "gitgov.toml").read_text().replace("timeout = 30", 'timeout = 30\nlocal = ["detect_staff.py"]')
    (priv_repo / "gitgov.toml").write_text(text)
    for name in ("contacts_staff", "contacts_staff2"):  # every file, not only the first scanned
        write(priv_repo, f"data/{name}.csv",
              "customer_id,badge\n" + "".join(f"C{i},ST-{i:06d}\n" for i in range(50)))
    git(priv_repo, "add", "gitgov.toml", "detect_staff.py", "data/contacts_staff.csv",
        "data/contacts_staff2.csv")
    proc = git(priv_repo, "commit", "-q", "-m", "staff", check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("error   privacy/detector-failed") == 2 and said in proc.stderr


def test_a_gzip_compressed_csv_is_scanned_like_the_plain_one(priv_repo):
    import gzip

    text = contacts(60)
    head, tail = text.split("\n", 30)[:30], text.split("\n", 30)[30]  # two gzip members
    policy = priv_repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace('"data/contacts*.parquet"]',
                                                 '"data/contacts*.parquet", "data/contacts*.csv.gz"]'))
    members = gzip.compress(("\n".join(head) + "\n").encode()) + gzip.compress(tail.encode())
    write(priv_repo, "data/contacts_gz.csv.gz", members)  # as `cat a.gz b.gz`, pigz or bgzip
    git(priv_repo, "add", "gitgov.toml", "data/contacts_gz.csv.gz")
    proc = git(priv_repo, "commit", "-q", "-m", "gz", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "privacy/pii-undeclared: column 'contact' looks like email addresses" in proc.stderr
    scan = gitgov(priv_repo, "scan", "data/contacts_gz.csv.gz", "--json")
    assert {c["column"]: c["kind"] for c in json.loads(scan.stdout)[0]["columns"]}["contact"] == "email"
    refused = gitgov(priv_repo, "protect", "data/contacts_gz.csv.gz", "--in-place")
    assert refused.returncode == 2 and "gzip-compressed; protect and reveal write plain files" in refused.stderr
    assert gzip.decompress((priv_repo / "data/contacts_gz.csv.gz").read_bytes()).decode() == text
    scanned = json.loads(scan.stdout)[0]
    assert scanned["rows"] == 60  # both members


def test_binary_bytes_named_csv_are_not_scanned_with_one_line_not_a_plugin_failure(priv_repo):
    with open(priv_repo / "gitgov.toml", "a") as f:
        f.write(DECLARE)
    cases = {"data/contacts.csv": b"id,na\rme\n\x01\x02\x03,x\n",  # a carriage return in the header
             "data/contacts-blob.csv": b"PK\x03\x04\x00\x00\x08\x00" + bytes(range(256)) * 8,  # a NUL
             "data/contacts-utf16.csv": "id,email\n1,a@b.de\n".encode("utf-16"),
             "data/contacts-parquet.csv": b"PAR1" + bytes(64),
             "data/contacts-ragged.csv": b"id,email\n1,a@b.de\n2\n3,c@d.de\n",
             "data/contacts-latin1.csv": b"id,name\n1,Ann\n2,Ren\xe9\n"}
    # the same words as `gitgov check` of the same bytes
    why = {"data/contacts.csv": "line 1 (the header) cannot be parsed",
           "data/contacts-blob.csv": "binary data, not text (a NUL byte on line 1)",
           "data/contacts-utf16.csv": "the file is UTF-16 text; save it as UTF-8",
           "data/contacts-parquet.csv": "this is a Parquet file, not text; give it a .parquet name",
           "data/contacts-ragged.csv": "line 3: 1 field where the header has 2",
           "data/contacts-latin1.csv": "line 3 is not UTF-8 text"}
    (priv_repo / "data").mkdir(exist_ok=True)
    for path, data in cases.items():
        (priv_repo / path).write_bytes(data)
        out = gitgov(priv_repo, "scan", path)
        assert out.returncode == 2 and out.stderr.startswith(f"gitgov: {path}: cannot read as csv: ")
        assert why[path] in out.stderr and out.stderr.count("\n") == 1
    git(priv_repo, "add", "gitgov.toml", "data")
    proc = git(priv_repo, "commit", "-m", "junk", check=False)
    assert "plugin-error" not in proc.stderr
    assert proc.stderr.count("privacy/not-scanned") == 6


def test_json_lines_whose_field_types_vary_are_scanned_not_skipped(priv_repo):
    """Arrow cannot type such a file; the scan must not let its addresses through unread."""
    with open(priv_repo / "gitgov.toml", "a") as f:
        f.write('\n[datasets.events]\npaths = ["data/events.jsonl"]\n')
    write(priv_repo, "data/events.jsonl", '{"id": 1, "email": "ann@example.com"}\n'
                                          '{"id": "two", "email": "bob@example.org"}\n')
    scan = gitgov(priv_repo, "scan", "--json", "data/events.jsonl")
    assert scan.returncode == 1, scan.stderr
    cols = {c["column"]: c for c in json.loads(scan.stdout)[0]["columns"]}
    assert cols["email"]["kind"] == "email" and cols["id"]["kind"] is None
    git(priv_repo, "add", "gitgov.toml", "data/events.jsonl")
    proc = git(priv_repo, "commit", "-m", "events", check=False)
    assert proc.returncode == 1 and "privacy/pii-undeclared: column 'email'" in proc.stderr
    assert "not-scanned" not in proc.stderr
