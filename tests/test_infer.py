"""gitgov infer, as a user runs it: where the new dataset lands in gitgov.toml, what
--force replaces and keeps, and the command it suggests next."""
from __future__ import annotations

import shlex
import stat
from pathlib import Path

import pytest

from conftest import git, gitgov, write
from gitgov.core.config import load_policy

ORDERS = "order_id,amount\n1,9.5\n2,12\n3,4.25\n"


@pytest.fixture
def fresh(tmp_path) -> Path:
    """A repository after a plain `gitgov init`: the template's catch-all [datasets.data]."""
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    gitgov(path, "init", check=True)
    return path


def test_infer_puts_the_dataset_before_the_catch_all_so_that_its_rules_apply(fresh):
    original = (fresh / "gitgov.toml").read_text()
    write(fresh, "data/sales/orders.csv", ORDERS)
    proc = gitgov(fresh, "infer", "data/sales/orders.csv", "--dataset", "orders")
    assert proc.returncode == 0, proc.stderr
    assert "before [datasets.data]" in proc.stdout and "first dataset" in proc.stdout
    assert ("review the rules, then `gitgov check --dataset orders`; commit gitgov.toml with the "
            "data") in proc.stdout
    assert "warning" not in proc.stderr
    text = (fresh / "gitgov.toml").read_text()
    # The block sits right above [datasets.data]; everything else is byte for byte as it was.
    head, rest = text.split("[datasets.orders]\n")
    block, tail = rest.split("[datasets.data]\n")
    assert head + "[datasets.data]\n" + tail == original
    assert head.endswith("# --- end of example ---\n\n")
    assert block.endswith("# against the last committed version\n\n"), block
    assert list(load_policy(fresh / "gitgov.toml").datasets) == ["orders", "data"]
    # What the hook and `gitgov check PATH` use is now the new dataset, with its rules.
    proc = gitgov(fresh, "check", "data/sales/orders.csv")
    assert proc.returncode == 0 and "(dataset orders, csv, 3 rows)" in proc.stdout, proc.stdout
    write(fresh, "data/sales/orders.csv", ORDERS + "3,7\n")
    proc = gitgov(fresh, "check", "data/sales/orders.csv")
    assert proc.returncode == 1 and "order_id.unique" in proc.stdout, proc.stdout
    git(fresh, "add", "gitgov.toml", ".gitignore", "data/sales/orders.csv")
    commit = git(fresh, "commit", "-q", "-m", "orders", check=False)
    assert commit.returncode != 0 and "order_id.unique" in commit.stderr, commit.stderr


def test_infer_print_says_where_the_block_belongs(fresh):
    write(fresh, "data/sales/orders.csv", ORDERS)
    before = (fresh / "gitgov.toml").read_text()
    proc = gitgov(fresh, "infer", "data/sales/orders.csv", "--dataset", "orders", "--print")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("[datasets.orders]\n")
    assert "before [datasets.data]" in proc.stderr
    assert (fresh / "gitgov.toml").read_text() == before


def test_infer_keeps_the_comments_above_the_shadowing_dataset_with_it(tmp_path):
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    policy = ('version = 1\n\n[datasets.raw]\npaths = ["raw/**"]\n\n'
              '# Everything else under data/,\n# until it is described.\n'
              '[datasets.data]   # the catch-all\npaths = ["data/"]\n\n'
              '[plugins]\nenable = ["validation"]\n')
    write(path, "gitgov.toml", policy)
    write(path, "data/sales/orders.csv", ORDERS)
    proc = gitgov(path, "infer", "data/sales/orders.csv", "--dataset", "orders")
    assert proc.returncode == 0, proc.stderr
    text = (path / "gitgov.toml").read_text()
    assert text.startswith('version = 1\n\n[datasets.raw]\npaths = ["raw/**"]\n\n[datasets.orders]\n')
    assert text.endswith('\n\n# Everything else under data/,\n# until it is described.\n'
                         '[datasets.data]   # the catch-all\npaths = ["data/"]\n\n'
                         '[plugins]\nenable = ["validation"]\n')
    assert list(load_policy(path / "gitgov.toml").datasets) == ["raw", "orders", "data"]
    assert "(dataset orders," in gitgov(path, "check", "data/sales/orders.csv").stdout


def test_infer_warns_when_it_cannot_put_the_dataset_first(tmp_path):
    # The catch-all is an inline table inside [datasets]: no [datasets.NAME] header can go before it.
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    write(path, "gitgov.toml", '[datasets]\ndata = { paths = ["data/**"] }\n\n'
                               '[plugins]\nenable = ["validation"]\n')
    write(path, "data/sales/orders.csv", ORDERS)
    proc = gitgov(path, "infer", "data/sales/orders.csv", "--dataset", "orders")
    assert proc.returncode == 0, proc.stderr
    warning = proc.stderr
    assert "warning" in warning and "'data'" in warning and "data/sales/orders.csv" in warning
    assert "above" in warning and "paths" in warning  # how to fix it
    assert "(dataset data," in gitgov(path, "check", "data/sales/orders.csv").stdout


FORCE_POLICY = """\
[datasets.customers]   # the CRM export
paths = ["data/customers*.csv"]
owner = "ada@example.com"
primary_key = "id"

[datasets.customers.columns.id]
type = "integer"
unique = true

[datasets.customers.columns.email]
pii = "email"
protect = "mask"   # the export masks it

[datasets.customers.columns.age]
type = "float"
max = 120
severity = "warning"

[datasets.customers.rules]
min_rows = 50
max_null_fraction = 0.5

[plugins]
enable = ["validation", "secrets"]
"""


def test_infer_force_replaces_what_it_infers_and_keeps_what_was_written_by_hand(tmp_path):
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    write(path, "gitgov.toml", FORCE_POLICY)
    # The export changed: no `id` any more, rows are keyed by nothing inferable.
    write(path, "data/customers.csv", "ref,email,age\nA,xxx@xxx.xx,30\nA,xxx@xxx.xx,41\nB,xxx@xx.xx,30\n")
    proc = gitgov(path, "infer", "data/customers.csv", "--dataset", "customers", "--force")
    assert proc.returncode == 0, proc.stderr
    assert "columns not in the sample: id" in proc.stdout
    ds = load_policy(path / "gitgov.toml").datasets["customers"]
    assert ds.primary_key == ()  # `id` is gone from the file, so from the key
    assert set(ds.columns) == {"ref", "email", "age"}
    assert ds.owner == "ada@example.com" and ds.paths == ("data/customers*.csv",)
    assert ds.columns["age"] == {"type": "integer", "required": True, "max": 120,
                                 "severity": "warning"}
    assert ds.columns["email"]["pii"] == "email" and ds.columns["email"]["protect"] == "mask"
    assert ds.rules["min_rows"] == 1 and ds.rules["max_null_fraction"] == 0.5
    assert "drift" in ds.rules
    text = (path / "gitgov.toml").read_text()
    assert '[datasets.customers]   # the CRM export\n' in text
    assert 'protect = "mask"   # the export masks it\n' in text
    assert "\n\n[plugins]\n" in text and "\n\n\n" not in text
    proc = gitgov(path, "check", "data/customers.csv")
    assert proc.returncode == 0 and "(dataset customers," in proc.stdout, proc.stdout + proc.stderr


def test_infer_force_twice_gives_the_same_file(tmp_path):
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    gitgov(path, "init", check=True)
    write(path, "data/sales/orders.csv", ORDERS)
    assert gitgov(path, "infer", "data/sales/orders.csv", "--dataset", "orders").returncode == 0
    once = (path / "gitgov.toml").read_text()
    proc = gitgov(path, "infer", "data/sales/orders.csv", "--dataset", "orders", "--force")
    assert proc.returncode == 0, proc.stderr
    assert (path / "gitgov.toml").read_text() == once
    # A key column renamed: the old primary key goes with it.
    write(path, "data/sales/orders.csv", ORDERS.replace("order_id", "order_code"))
    proc = gitgov(path, "infer", "data/sales/orders.csv", "--dataset", "orders", "--force")
    assert proc.returncode == 0, proc.stderr
    ds = load_policy(path / "gitgov.toml").datasets["orders"]
    assert ds.primary_key == ("order_code",) and "order_id" not in ds.columns
    assert gitgov(path, "check", "data/sales/orders.csv").returncode == 0


def test_infer_suggests_a_command_the_shell_can_run(fresh):
    write(fresh, "data/sales/orders.csv", ORDERS)
    proc = gitgov(fresh, "infer", "data/sales/orders.csv", "--dataset", "sales orders")
    assert proc.returncode == 0, proc.stderr
    assert '[datasets."sales orders"]' in proc.stdout
    suggested = proc.stdout.split("`")[-2]
    assert shlex.split(suggested) == ["gitgov", "check", "--dataset", "sales orders"]
    assert "(dataset sales orders," in gitgov(fresh, "check", "--dataset", "sales orders").stdout


def test_infer_force_keeps_the_separator_after_a_dataset_without_rules(fresh):
    # The template's [datasets.data] has no columns or rules; the separator under it is
    # about [roles], and stays right above it.
    write(fresh, "data/sales/orders.csv", ORDERS)
    proc = gitgov(fresh, "infer", "data/sales/orders.csv", "--dataset", "data", "--force")
    assert proc.returncode == 0, proc.stderr
    text = (fresh / "gitgov.toml").read_text()
    assert ('classification = "internal"\nprimary_key = "order_id"\n\n'
            '[datasets.data.columns.order_id]\n') in text
    assert "# against the last committed version\n\n# -------" in text
    assert "-----\n[roles]\n" in text and "\n\n\n" not in text


def test_infer_force_gathers_a_dataset_split_by_another_table(tmp_path):
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    write(path, "gitgov.toml", '[datasets.orders]\npaths = ["data/sales/*.csv"]\n\n'
                               '[datasets.orders.columns.order_id]\nmax = 1000\n\n'
                               '[plugins]\nenable = ["validation"]\n\n'
                               '[datasets.orders.columns.legacy_code]   # appended later\n'
                               'type = "string"\n\n'
                               '# How long data is kept\n[retention]\naction = "report"\n')
    write(path, "data/sales/orders.csv", ORDERS)
    proc = gitgov(path, "infer", "data/sales/orders.csv", "--dataset", "orders", "--force")
    assert proc.returncode == 0, proc.stderr
    assert "columns not in the sample: legacy_code" in proc.stdout
    ds = load_policy(path / "gitgov.toml").datasets["orders"]
    assert set(ds.columns) == {"order_id", "amount"} and ds.columns["order_id"]["max"] == 1000
    text = (path / "gitgov.toml").read_text()
    assert "legacy_code" not in text
    assert text.endswith('[plugins]\nenable = ["validation"]\n\n'
                         '# How long data is kept\n[retention]\naction = "report"\n')
    assert gitgov(path, "check", "data/sales/orders.csv").returncode == 0


def test_infer_replaces_gitgov_toml_whole_keeping_its_permissions(fresh):
    policy = fresh / "gitgov.toml"
    policy.chmod(0o640)
    inode = policy.stat().st_ino
    write(fresh, "data/sales/orders.csv", ORDERS)
    proc = gitgov(fresh, "infer", "data/sales/orders.csv", "--dataset", "orders")
    assert proc.returncode == 0, proc.stderr
    assert "[datasets.orders]" in policy.read_text()
    # a new file renamed over the old one (a cut-short write cannot leave half a policy)
    assert policy.stat().st_ino != inode and stat.S_IMODE(policy.stat().st_mode) == 0o640
    assert sorted(p.name for p in fresh.iterdir() if p.name.startswith(".gitgov.toml")) == []


def test_infer_writes_the_policy_of_the_repository_it_runs_in(fresh, tmp_path):
    """A sample in another repository (or in none) is refused, naming the repository the
    command runs in: that repository's gitgov.toml is the one a user means to edit."""
    other = tmp_path / "other"
    git(tmp_path, "init", "-q", "-b", "main", str(other))
    gitgov(other, "init", check=True)
    write(other, "data/s.csv", ORDERS)
    before = {p: (p / "gitgov.toml").read_text() for p in (fresh, other)}
    proc = gitgov(fresh, "infer", str(other / "data/s.csv"), "--dataset", "zz")
    assert proc.returncode == 2 and proc.stderr == (
        f"gitgov: {other}/data/s.csv: is outside the repository {fresh}; copy a sample into it "
        "where the dataset's files will live\n")
    assert {p: (p / "gitgov.toml").read_text() for p in (fresh, other)} == before
    write(fresh, "data/sales/orders.csv", ORDERS)
    proc = gitgov(fresh / "data", "infer", "sales/orders.csv", "--dataset", "orders")  # from below
    assert proc.returncode == 0, proc.stderr
    assert "[datasets.orders]" in (fresh / "gitgov.toml").read_text()
    assert (other / "gitgov.toml").read_text() == before[other]


def test_infer_names_what_keeps_a_file_from_reading_cleanly(fresh):
    write(fresh, "data/broken.jsonl", '{"a": 1}\n{"a":\n')
    proc = gitgov(fresh, "infer", "data/broken.jsonl", "--dataset", "broken")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "gitgov: data/broken.jsonl: cannot infer rules from a file that does not read cleanly: "
        'read.bad-json: 1 line that cannot be read as a JSON object (skipped): row 2 (line 2) '
        '"{\\"a\\":": not valid JSON (Expecting value)']


def test_infer_proposes_no_allowed_list_of_values_cut_short(fresh):
    """The profile keeps 200 characters of a text value: a list of those would be a rule that
    the values themselves break."""
    long = ["a" * 250, "b" * 250]
    write(fresh, "data/k.csv", "kind\n" + "".join(f"{long[i % 2]}\n" for i in range(6)))
    proc = gitgov(fresh, "infer", "data/k.csv", "--dataset", "k")
    assert proc.returncode == 0, proc.stderr
    kind = load_policy(fresh / "gitgov.toml").datasets["k"].columns["kind"]
    assert "allowed" not in kind and kind.get("type") == "string"
    assert gitgov(fresh, "check", "data/k.csv").returncode == 0
