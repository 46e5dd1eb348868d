"""gitgov.toml loading: the Policy it builds and the errors users see."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gitgov.core import schema
from gitgov.core.config import DatasetPolicy, Policy, fastpath_pathspecs, load_policy, secret_name_matcher
from gitgov.core.config_template import DEFAULT_TOML, EXAMPLE_BEGIN, EXAMPLE_END
from gitgov.core.errors import ConfigError, InputError

FULL = """\
version = 1

[datasets.customers]
description = "CRM export"
paths = ["data/raw/customers*.csv"]
format = "csv"
classification = "confidential"
owner = "alice@example.com"
stewards = ["bob@example.com"]
custodians = ["ops"]
consumers = ["ml-team"]
encrypt = "file"
retention_column = "signup_date"
hold = true
primary_key = ["id", "region"]

[datasets.customers.columns.email]
type = "string"
pii = "email"
protect = "pseudonymize"
pattern = "^[^@]+@[^@]+$"

[datasets.customers.rules]
min_rows = 1
max_null_fraction = 0.5
foreign_keys = { region = "regions.code" }
drift = { max_row_change_pct = 20, max_null_increase_pts = 5 }

[datasets.events]
paths = ["data/**/*.parquet"]
encrypt = false
retention = "30d"

[roles]
ml-team = ["carol@example.com"]
stewards = { members = ["bob@example.com"], description = "data stewards" }

[plugins]
enable = ["validation", "privacy"]
disable = ["privacy"]
local = ["tools/my_plugin.py"]
timeout = 2.5

[plugins.validation]
sample_rows = 10
nested = { free = ["form"] }

[limits]
max_file_size = "1GiB"
secret_names = ["*.secret"]

[watch]
enabled = true
ignore = ["**/*.tmp"]
debounce_ms = 200

[retention]
default = "7y"
action = "dispose"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gitgov.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert info.value.exit_code == 2 and isinstance(info.value, InputError)
    return str(info.value).replace(str(path), "F")


# ---- a valid file ------------------------------------------------------

def test_full_file_round_trip(tmp_path):
    policy = load_policy(write(tmp_path, FULL))
    assert list(policy.datasets) == ["customers", "events"]
    c = policy.datasets["customers"]
    assert c.paths == ("data/raw/customers*.csv",)
    assert (c.classification, c.owner, c.format, c.encrypt, c.hold) == (
        "confidential", "alice@example.com", "csv", "file", True)
    assert c.stewards == ("bob@example.com",) and c.consumers == ("ml-team",)
    assert c.primary_key == ("id", "region")
    assert c.columns["email"]["protect"] == "pseudonymize"
    assert c.rules["foreign_keys"] == {"region": "regions.code"}
    assert c.retention == "7y" and c.retention_days == 7 * 365  # from [retention] default
    e = policy.datasets["events"]
    assert e.encrypt is None and e.retention_days == 30 and e.classification == "internal"
    assert policy.roles == {"ml-team": ("carol@example.com",), "stewards": ("bob@example.com",)}
    p = policy.plugins
    assert p.enable == ("validation", "privacy") and p.local == ("tools/my_plugin.py",)
    assert p.timeout == 2.5 and p.settings == {"validation": {"sample_rows": 10, "nested": {"free": ["form"]}}}
    assert p.allows("validation") and not p.allows("privacy") and not p.allows("other")
    assert policy.limits.max_file_size == 2**30
    assert policy.limits.secret_globs()[-1] == "*.secret"
    assert policy.watch["debounce_ms"] == 200 and policy.retention["action"] == "dispose"
    assert policy.governed_patterns() == ["data/raw/customers*.csv", "data/**/*.parquet"]
    assert policy.raw["version"] == 1


def test_missing_file_is_empty_policy(tmp_path):
    policy = load_policy(tmp_path / "gitgov.toml")
    assert policy == Policy.empty(tmp_path / "gitgov.toml")
    assert policy.datasets == {} and policy.dataset_for("data/x.csv") is None
    assert policy.plugins.enable is None and policy.plugins.allows("anything")
    assert policy.limits.max_file_size == schema.DEFAULT_MAX_FILE_SIZE
    assert fastpath_pathspecs(policy) == fastpath_pathspecs(Policy.empty(policy.path))


def test_default_toml_loads(tmp_path):
    policy = load_policy(write(tmp_path, DEFAULT_TOML))
    assert list(policy.datasets) == ["data"]
    assert policy.dataset_for("data/raw/customers.csv").name == "data"
    assert policy.dataset_for("src/train.py") is None
    assert policy.limits.max_file_size == 50_000_000


def test_default_toml_example_loads_when_uncommented(tmp_path):
    lines, inside = [], False
    for line in DEFAULT_TOML.splitlines():
        if line.startswith((EXAMPLE_BEGIN, EXAMPLE_END)):
            inside = line.startswith(EXAMPLE_BEGIN)
            continue
        lines.append(line[2:] if inside and line.startswith("# ") else "" if inside else line)
    policy = load_policy(write(tmp_path, "\n".join(lines)))
    assert list(policy.datasets) == ["customers", "data"]
    assert policy.dataset_for("data/raw/customers.csv").name == "customers"
    assert policy.datasets["customers"].columns["email"]["pii"] == "email"


# ---- errors: exact file:line: key: rule --------------------------------

@pytest.mark.parametrize("text, message", [
    (
        """\
        [datasets.d]
        paths = ["data/*.csv"]
        primary_key = ["id", "id"]
        """,
        "F:3: datasets.d.primary_key: names 'id' twice",
    ),
    (
        """\
        [datasets.d]
        paths = ["data/*.csv"]
        primary_key = []
        """,
        "F:3: datasets.d.primary_key: must not be empty",
    ),
    (  # TOML allows inf, nan and integers of any size; no rule can hold them
        """\
        [datasets.d]
        paths = ["data/*.csv"]
        [datasets.d.columns.age]
        max = inf
        """,
        "F:4: datasets.d.columns.age.max: expected a finite number, not inf",
    ),
    (
        """\
        [datasets.d]
        paths = ["data/*.csv"]
        [datasets.d.columns.age]
        allowed = [1, 99999999999999999999]
        """,
        "F:4: datasets.d.columns.age.allowed[1]: 99999999999999999999 is out of range: numbers in "
        "gitgov.toml fit in 64 bits",
    ),
    (
        """\
        [datasets.d]
        paths = ["data/*.csv"]
        [datasets.d.rules]
        freshness_days = 1e300
        freshness_column = "t"
        """,
        "F:4: datasets.d.rules.freshness_days: must be at most 365000 days (1000 years)",
    ),
    (  # typo in a dataset key
        """\
        [datasets.customers]
        paths = ["data/*.csv"]
        clasification = "public"
        """,
        "F:3: datasets.customers.clasification: unknown key (did you mean 'classification'?)",
    ),
    (  # typo in a top-level table name
        """\
        version = 1
        [dataset.customers]
        paths = ["data/*.csv"]
        """,
        "F:2: dataset: unknown key (did you mean 'datasets'?)",
    ),
    (  # typo of a fixed key in a table that also allows free-form sub-tables
        """\
        [plugins]
        timeout = 3
        enabel = ["validation"]
        """,
        "F:3: plugins.enabel: unknown key (did you mean 'enable'?)",
    ),
    (  # typo inside a column rule table
        """\
        [datasets.d]
        paths = ["data/*.csv"]
        [datasets.d.columns.age]
        type = "integer"
        uniqe = true
        """,
        "F:5: datasets.d.columns.age.uniqe: unknown key (did you mean 'unique'?)",
    ),
    (  # a string where a list is expected
        """\
        [datasets.d]
        description = "has # and = inside"
        paths = "data/*.csv"
        """,
        "F:3: datasets.d.paths: expected a list of strings",
    ),
    (  # wrong type inside an inline table
        """\
        [datasets]
        d = { paths = ["data/*.csv"], hold = "yes" }
        """,
        "F:2: datasets.d.hold: expected true or false",
    ),
    (  # a bad glob in a multi-line array points at its own line
        """\
        [datasets.d]
        paths = [
            "data/*.csv",
            "data/[raw/*.csv",
        ]
        """,
        "F:4: datasets.d.paths[1]: bad glob 'data/[raw/*.csv': unclosed '['",
    ),
    (  # a value outside the allowed set, with a suggestion
        """\
        [datasets.d]
        paths = ["data/*.parquet"]
        format = "parquett"
        """,
        "F:3: datasets.d.format: expected one of 'csv', 'tsv', 'parquet', 'jsonl', 'arrow', "
        "got 'parquett' (did you mean 'parquet'?)",
    ),
    (  # a required key that is missing points at the table header
        """\
        version = 1

        [datasets.d]
        owner = "alice"
        """,
        "F:3: datasets.d.paths: required key is missing",
    ),
    (  # dotted keys at the top level; quoted dataset names are quoted back
        """\
        datasets."my data".paths = ["x/*.csv"]
        datasets."my data".ownr = "alice"
        """,
        "F:2: datasets.\"my data\".ownr: unknown key (did you mean 'owner'?)",
    ),
    (  # [[array of tables]] where a table is expected
        """\
        version = 1
        [[datasets]]
        paths = ["x"]
        """,
        "F:2: datasets: expected a table",
    ),
    (
        """\
        [limits]
        max_file_size = "50 parsecs"
        """,
        "F:2: limits.max_file_size: expected a size such as 50MB or 1GiB, or a number of bytes",
    ),
    (
        """\
        [datasets.d]
        paths = ["data/*.csv"]
        retention = "7 years"
        """,
        "F:3: datasets.d.retention: expected a duration such as 30d, 12w, 18m or 7y",
    ),
    (
        """\
        [datasets.d]
        paths = ["data/*.csv"]
        encrypt = true
        """,
        "F:3: datasets.d.encrypt: expected one of 'file', false, got true",
    ),
    (
        """\
        [plugins]
        local = ["../outside.py"]
        """,
        "F:2: plugins.local[0]: must be a path relative to the repository root, without '..'",
    ),
    (
        """\
        [plugins]
        timeout = 0
        """,
        "F:2: plugins.timeout: must be more than 0",
    ),
    (
        """\
        [datasets.d]
        paths = ["data/*.csv"]
        [datasets.d.columns.code]
        pattern = "([a-z]"
        """,
        "F:4: datasets.d.columns.code.pattern: bad regular expression '([a-z]': "
        "missing ), unterminated subpattern at position 0",
    ),
    (
        """\
        [watch]
        colour = "blue"
        """,
        "F:2: watch.colour: unknown key; expected one of " + ", ".join(schema.WATCH.keys),
    ),
    (
        """\
        [datasets.""]
        paths = ["data/*.csv"]
        """,
        'F:1: datasets."": a name cannot be empty',
    ),
    (
        """\
        [datasets.d]
        paths = ["data/*.csv"]
        [datasets.d.columns." "]
        type = "integer"
        """,
        'F:3: datasets.d.columns." ": a name cannot be empty',
    ),
    (
        """\
        [plugins]
        local = [""]
        """,
        "F:2: plugins.local[0]: must be a path relative to the repository root, not empty",
    ),
])
def test_error_messages(tmp_path, text, message):
    assert error_for(tmp_path, text) == message


@pytest.mark.parametrize("glob, reason", [
    ("/data/*.csv", "must be relative to the repository root, without a leading '/'"),
    ("data/../secrets/*.csv", "must not contain '..' segments; write the path from the repository root"),
    ("./data/*.csv", "must not contain '.' segments; write the path from the repository root"),
    ("data//x.csv", "must not contain an empty segment ('//'); write the path from the repository root"),
    ("data/**.csv", "'**' must be a whole path segment, as in 'data/**/*.csv'"),
    ("data/[raw/x.csv", "unclosed '['"),
    ("data\\raw\\x.csv", "'\\' only escapes * ? [ ] \\; separate directories with '/'"),
    ("data/[z-a].csv", "malformed character class [z-a]: bad character range z-a"),
    ("", "empty glob"),
])
def test_bad_glob_errors(tmp_path, glob, reason):
    text = f"[datasets.d]\npaths = [{json.dumps(glob)}]\n"
    assert error_for(tmp_path, text) == f"F:2: datasets.d.paths[0]: bad glob {glob!r}: {reason}"


@pytest.mark.parametrize("text, message", [
    ("version = 1\n[datasets.d]\npaths = [\"a\",,]\n", "F:3: TOML syntax error at column 14: invalid value"),
    ("a = 1\nb = \"unterminated\n", "F:2: TOML syntax error at column 18: illegal character '\\n'"),
    ("[datasets.d]\npaths = ", "F:2: TOML syntax error at column 9: invalid value"),
    ("[x]\n[x]\n", "F:2: TOML syntax error at column 3: cannot declare ('x',) twice"),
])
def test_toml_syntax_error_names_line_and_column(tmp_path, text, message):
    assert error_for(tmp_path, text) == message


def test_nesting_too_deep_for_the_toml_reader_is_a_config_error(tmp_path):
    assert error_for(tmp_path, "version = 1\nx = " + "[" * 3000 + "]" * 3000 + "\n") == \
        "F: arrays or tables nested too deeply to read"


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "gitgov.toml"
    path.write_bytes(b"version = 1\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=r":2: not valid UTF-8 text$"):
        load_policy(path)


def test_a_byte_order_mark_is_tolerated_and_lines_count_as_before(tmp_path):
    path = tmp_path / "gitgov.toml"
    path.write_bytes(b"\xef\xbb\xbf[plugins]\ndisable = [\"x\"]\n")
    assert load_policy(path).plugins.disable == ("x",)
    path.write_bytes(b"\xef\xbb\xbf[datasets.a]\npaths = [\"d/*\"]\nowner = 5\n")
    with pytest.raises(ConfigError) as exc:
        load_policy(path)
    assert exc.value.line == 3
    path.write_bytes(b"\xef\xbb\xbfversion = 1\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=r":2: not valid UTF-8 text$"):
        load_policy(path)


def test_unreadable_path_is_config_error(tmp_path):
    (tmp_path / "gitgov.toml").mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "gitgov.toml")


def test_plugin_settings_tables_are_free_form(tmp_path):
    policy = load_policy(write(tmp_path, "[plugins.someone-elses]\nwhatever = [1, {a = 2}]\n"))
    assert policy.plugins.settings == {"someone-elses": {"whatever": [1, {"a": 2}]}}


@pytest.mark.parametrize("size, expected", [
    (1024, 1024), ("50MB", 50_000_000), ("1GiB", 2**30), ("1.5 KiB", 1536), ("10 mb", 10_000_000), ("7", 7),
])
def test_sizes(tmp_path, size, expected):
    policy = load_policy(write(tmp_path, f"[limits]\nmax_file_size = {json.dumps(size)}\n"))
    assert policy.limits.max_file_size == expected

# ---- the hook's fast path --------------------------------------------

PATHS = [
    "data/raw/customers.csv", "data/raw/customers_2024.csv", "data/raw/other.csv",
    "data/raw/sub/customers.csv", "data/x.parquet", "data/a/b/c.parquet", "data/raw/blob.bin",
    "data/raw", "models/m.pkl", "README.md", "data/raw/customers.csv/inner.parquet",
]


def test_fastpath_pathspecs_cover_every_governed_and_secret_path(tmp_path):
    """The hook's fast path asks git with these pathspecs; missing a path would skip its check."""
    policy = load_policy(write(tmp_path, """\
        [datasets.customers]
        paths = ["data/raw/customers*.csv"]
        [datasets.columnar]
        paths = ["data/**/*.parquet"]
        [datasets.raw]
        paths = ["data/raw/**"]
        [limits]
        secret_names = ["*.secret", "conf/prod/*.ini"]
        """))
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    paths = [p for p in PATHS if p not in ("data/raw", "data/raw/customers.csv/inner.parquet")]
    paths += ["id_rsa", "a/b/server.pem", "x/y.secret", "conf/prod/db.ini", ".gitgov/keys/master"]
    for rel in paths:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(rel)
    subprocess.run(["git", "add", "-f", "."], cwd=repo, check=True)
    listed = subprocess.run(["git", "ls-files", "--", *fastpath_pathspecs(policy)], cwd=repo,
                            capture_output=True, text=True, check=True).stdout.split()
    secret = secret_name_matcher(policy)
    must = {p for p in paths if policy.dataset_for(p) or secret.search(p)}
    assert must <= set(listed), must - set(listed)
    assert "README.md" not in listed and "models/m.pkl" not in listed  # and it still filters


@pytest.mark.parametrize("path, secret", [
    ("id_rsa", True), ("home/u/.ssh/id_rsa", True), (".env", True), ("app/.env", True),
    ("certs/server.pem", True), (".gitgov/keys/master", True), ("creds/credentials.json", True),
    ("notes/x.secret", True),  # from [limits] secret_names
    (".envrc", False), ("id_rsa.pub", False), ("sub/.gitgov/keys/master", False), ("data/a.csv", False),
])
def test_secret_name_regex(tmp_path, path, secret):
    policy = load_policy(write(tmp_path, '[limits]\nsecret_names = ["*.secret"]\n'))
    assert bool(secret_name_matcher(policy).search(path)) is secret


def test_first_matching_dataset_wins(tmp_path):
    policy = load_policy(write(tmp_path, """\
        [datasets.broad]
        paths = ["data/**"]
        [datasets.narrow]
        paths = ["data/raw/*.csv"]
        """))
    assert policy.dataset_for("data/raw/a.csv").name == "broad"


def test_policy_records_are_immutable_and_their_empty_defaults_read_only(tmp_path):
    policy = load_policy(write(tmp_path, """\
        [datasets.d]
        paths = ["a/*.csv"]
        """))
    ds = policy.datasets["d"]
    with pytest.raises(AttributeError):
        ds.paths = ("b/*.csv",)  # type: ignore[misc]
    bare = DatasetPolicy(name="x", paths=("b/*.csv",))  # built by hand: shares no mutable default
    with pytest.raises(TypeError):
        bare.columns["c"] = {}  # type: ignore[index]
    assert bare.matches("b/1.csv") and not bare.matches("a/1.csv")
    assert ds.matches("a/1.csv") and not ds.matches("b/1.csv")  # each set of globs its own matcher
    narrowed = policy._replace(plugins=policy.plugins._replace(disable=("privacy",)))
    assert not narrowed.plugins.allows("privacy") and policy.plugins.allows("privacy")


def test_importing_config_does_not_import_tomllib():
    code = "import sys, gitgov.core.config; sys.exit('tomllib' in sys.modules or 'tomli' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
