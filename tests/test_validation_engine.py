"""The validation engine on files, without Git: rules, row numbers, formats, bad input."""
from __future__ import annotations

import gzip
import json
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gitgov.core.config import load_policy
from gitgov.core.errors import ConfigError
from gitgov.plugins.validation.check import check_source
from gitgov.plugins.validation.formats import Source
from gitgov.plugins.validation.report import finding_message, render_text, to_json
from gitgov.plugins.validation.rules import Registry, column_rule, table_rule
from gitgov.plugins.validation.ruleset import compile_rules

POLICY = """\
version = 1
[datasets.people]
paths = ["people*"]
primary_key = "id"

[datasets.people.columns.id]
type = "integer"
required = true
unique = true

[datasets.people.columns.email]
format = "email"
pii = "email"

[datasets.people.columns.age]
type = "integer"
min = 18
max = 120

[datasets.people.columns.plan]
allowed = ["free", "pro"]
severity = "warning"

[datasets.people.columns.joined]
type = "date"

[datasets.people.rules]
min_rows = 1
"""
GOOD = "id,email,age,plan,joined\n1,ada@example.com,36,free,2024-01-05\n2,grace@example.org,45,pro,2023-12-24\n"


def ruleset(tmp_path: Path, policy: str = POLICY, dataset: str | None = None, registry=None):
    path = tmp_path / "gitgov.toml"
    path.write_text(textwrap.dedent(policy))
    pol = load_policy(path)
    ds = pol.datasets[dataset] if dataset else next(iter(pol.datasets.values()))
    return compile_rules(pol, ds, registry or Registry())


def check(tmp_path: Path, name: str, data: bytes | str, policy: str = POLICY, **kw):
    file = tmp_path / name
    file.write_bytes(data.encode() if isinstance(data, str) else data)
    rs = ruleset(tmp_path, policy, registry=kw.pop("registry", None))
    return check_source(Source(name, lambda: open(file, "rb"), local=str(file)), rs, **kw)


def failed(report) -> dict[str, int]:
    return {t.id: t.count for t in report.failures}


def rows_of(report, rule_id: str) -> list:
    return [s.row for s in next(t for t in report.results if t.id == rule_id).samples]


# ---- rules ------------------------------------------------------------------------------

def test_clean_file_passes_every_rule_and_is_profiled(tmp_path):
    report = check(tmp_path, "people.csv", GOOD)
    assert report.verdict == "pass" and report.rows == 2 and not report.failures
    assert {t.id for t in report.results} >= {"id.type", "id.unique", "email.format", "age.min",
                                             "plan.allowed", "joined.type", "min_rows"}
    cols = {c["name"]: c for c in report.profile["columns"]}
    assert cols["age"]["mean"] == 40.5 and cols["joined"]["max"] == "2024-01-05"
    assert cols["email"]["masked"] and "min" not in cols["email"]  # personal data: no values kept


def test_each_rule_counts_failures_with_1_based_data_rows_and_values(tmp_path):
    data = ("id,email,age,plan,joined\n"
            "1,ada@example.com,36,free,2024-01-05\n"      # row 1
            "2,not-an-email,17,gold,2024-02-30\n"          # row 2: format, min, allowed, date
            "2,bo@example.com,abc,pro,\n"                   # row 3: repeat id, type
            ",cy@example.com,130,free,2024-03-01\n")        # row 4: empty id, max
    report = check(tmp_path, "people.csv", data)
    assert failed(report) == {"id.required": 1, "id.unique": 1, "email.format": 1, "age.type": 1,
                              "age.min": 1, "age.max": 1, "plan.allowed": 1, "joined.type": 1,
                              "primary_key": 2}
    assert rows_of(report, "age.min") == [2] and rows_of(report, "age.max") == [4]
    assert rows_of(report, "id.unique") == [3]
    dup = next(t for t in report.results if t.id == "id.unique").samples[0]
    assert dup.note == "same as row 2" and dup.line == 4  # the header is line 1
    age = next(t for t in report.results if t.id == "age.type")
    assert age.samples[0].value == "abc"
    assert report.verdict == "block"  # plan.allowed is only a warning, the rest are errors
    assert report.counts() == {"error": 8, "warning": 1, "info": 0}


def test_empty_cells_pass_every_rule_but_required(tmp_path):
    policy = POLICY + textwrap.dedent("""\
        [datasets.people.columns.level]
        type = "integer"
        allowed = [1, 2]
        [datasets.people.columns.code]
        allowed = ["a", "b"]
        pattern = "[a-z]"
        min_length = 1
        """)
    data = ("id,email,age,plan,joined,level,code\n"
            "1,,,,,,\n"
            "2,a@b.io,30,free,2024-01-01,3,c\n")
    report = check(tmp_path, "people.csv", data, policy)
    assert failed(report) == {"level.allowed": 1, "code.allowed": 1}
    assert rows_of(report, "level.allowed") == rows_of(report, "code.allowed") == [2]


def test_values_of_personal_data_columns_are_masked_in_reports(tmp_path):
    data = "id,email,age,plan,joined\n1,Jane.Doe@corp,30,free,2024-01-01\n"
    report = check(tmp_path, "people.csv", data)
    sample = next(t for t in report.failures if t.id == "email.format").samples[0]
    assert sample.value == "Xxxx.Xxx@xxxx"
    text = render_text([report]) + json.dumps(to_json([report]))
    assert "Jane" not in text and "corp" not in text


def test_rows_that_cannot_be_read_are_masked_whole_when_a_column_holds_personal_data(tmp_path):
    """A ragged row or a broken JSON line cannot be split into columns, so the personal data
    in it cannot be told apart: its text is masked whole."""
    data = "id,email,age,plan,joined\n1,Jane.Doe@corp.io,30,free,2024-01-01,EXTRA\n"
    report = check(tmp_path, "people.csv", data)
    sample = next(t for t in report.failures if t.id == "read.ragged-row").samples[0]
    # masked by shape, every field alike: digits as 9, letters as x or X
    assert sample.value == "9,Xxxx.Xxx@xxxx.xx,99,xxxx,9999-99-99,XXXXX"
    lines = '{"id": 1, "email": "Jane.Doe@corp.io"}\n{"id": 2, "email": "Alan@corp.io"\n'
    jsonl = check(tmp_path, "people.jsonl", lines)
    text = render_text([report, jsonl]) + json.dumps(to_json([report, jsonl]))
    assert "Jane" not in text and "Alan" not in text and "corp" not in text
    assert "read.bad-json" in text
    bare = "version = 1\n[datasets.people]\npaths = [\"people*\"]\n"
    plain = check(tmp_path, "people.csv", data, bare)  # no personal data declared: as written
    assert plain.failures[0].samples[0].value.startswith("1,Jane.Doe@corp.io")


def test_a_quoted_empty_cell_is_an_empty_cell(tmp_path):
    """csv.writer(quoting=QUOTE_ALL) writes an empty value as \"\": `required` fails it, and
    the rules that let empty cells pass (type, format) let it pass too."""
    data = ('"id","email","age","plan","joined"\n'
            '"1","","30","free","2024-01-01"\n'
            '"","a@b.io","","free","2024-01-01"\n')
    report = check(tmp_path, "people.csv", data)
    assert failed(report) == {"id.required": 1, "primary_key": 1}
    assert rows_of(report, "id.required") == [2]


def test_a_composite_primary_key_compares_the_parts_by_their_types(tmp_path):
    policy = POLICY.replace('primary_key = "id"', 'primary_key = ["id", "plan"]')
    data = ("id,email,age,plan,joined\n"
            "1,a@b.io,30,free,2024-01-01\n"
            "01,c@d.io,31,free,2024-01-01\n"   # the same key: 01 is the integer 1
            "x12,e@f.io,32,free,2024-01-01\n")  # no key: x12 is no integer
    report = check(tmp_path, "people.csv", data, policy)
    assert rows_of(report, "primary_key") == [2, 3]
    notes = [s.note for s in next(t for t in report.results if t.id == "primary_key").samples]
    assert any(n and "'id' is not an integer" in n for n in notes), notes


@pytest.mark.parametrize("padding", [0, 5000])  # a small file read at once, a large one in blocks
def test_lines_count_the_lines_of_quoted_values_and_blank_lines(tmp_path, padding):
    """A value of row 1 spans two lines and a blank line (which no row counts) lies before
    row 2: row 3 starts on line 6. Row numbers stay as a spreadsheet shows them."""
    data = ("id,email,age,plan,joined\n"
            '1,a@b.io,30,"free\nplan",2024-01-01\n'
            "\n"
            "2,c@d.io,31,free,2024-01-01,EXTRA\n"
            "3,e@f.io,300,free,2024-01-01\n"
            + "".join(f"{i},x{i}@b.io,40,free,2024-01-01\n" for i in range(4, 4 + padding)))
    for name, content in (("people.csv", data.encode()), ("people.csv.gz", gzip.compress(data.encode()))):
        report = check(tmp_path, name, content)
        by_id = {t.id: t.samples[0] for t in report.failures}
        assert (by_id["read.ragged-row"].row, by_id["read.ragged-row"].line) == (2, 5), name
        assert (by_id["age.max"].row, by_id["age.max"].line) == (3, 6), name


def test_the_profile_of_a_personal_number_keeps_counts_only(tmp_path):
    """The mean of a column of salaries is one person's salary when the file has one row."""
    policy = POLICY.replace('[datasets.people.columns.age]\n', '[datasets.people.columns.age]\npii = true\n')
    report = check(tmp_path, "people.csv", GOOD, policy)
    age = next(c for c in report.profile["columns"] if c["name"] == "age")
    assert age["masked"] and not {"mean", "std", "min", "max"} & set(age) and age["top"] is None
    plain = next(c for c in check(tmp_path, "people.csv", GOOD).profile["columns"] if c["name"] == "age")
    assert {"mean", "std", "min", "max"} <= set(plain)


def test_a_long_text_value_is_cut_in_the_profile(tmp_path):
    """A quote that never closes reads the rest of the file into one value: the profile
    stored in the ledger keeps 200 characters of it, not megabytes."""
    bare = "version = 1\n[datasets.t]\npaths = [\"t*\"]\n"
    data = "a,b\n1,\"x\n" + "".join(f"{i},y\n" for i in range(20000))
    report = check(tmp_path, "t.csv", data, bare, profile_mode="full")
    b = next(c for c in report.profile["columns"] if c["name"] == "b")
    longest = max(len(str(v)) for v in [b.get("min"), b.get("max")] + [t["value"] for t in b["top"]])
    assert longest == 200 and "read.broken-quote" in {t.id for t in report.failures}


def test_a_pattern_only_re2_knows_is_accepted_and_enforced(tmp_path):
    policy = "version = 1\n[datasets.g]\npaths = [\"g*\"]\n[datasets.g.columns.w]\npattern = '\\p{Greek}+'\n"
    report = check(tmp_path, "g.csv", "w\nαβγ\nabc\n", policy)
    assert failed(report) == {"w.pattern": 1} and rows_of(report, "w.pattern") == [2]
    with pytest.raises(ConfigError) as info:
        ruleset(tmp_path, policy.replace("+'", "+('"))
    assert "bad regular expression '\\p{Greek}+('" in str(info.value)


def test_severity_per_rule_and_table_rules(tmp_path):
    policy = POLICY + textwrap.dedent("""\
        max_rows = 1
        max_null_fraction = 0.25
        severities = { max_rows = "warning" }
        """)
    data = GOOD + "3,,50,free,\n"
    report = check(tmp_path, "people.csv", data, policy)
    by_id = {t.id: t for t in report.failures}
    assert by_id["max_rows"].severity == "warning" and by_id["max_rows"].count == 1
    assert by_id["email.max_null_fraction"].samples[0].value == "33.3%"
    assert by_id["joined.max_null_fraction"].severity == "error"


def test_columns_exact_is_listed_like_every_table_rule_when_it_passes(tmp_path):
    policy = POLICY + "columns_exact = true\n"
    rules = {r["id"]: r for r in to_json([check(tmp_path, "people.csv", GOOD, policy)])["files"][0]["rules"]}
    assert rules["columns_exact"]["failed"] == 0 and rules["columns_exact"]["param"] is True
    report = check(tmp_path, "people.csv", GOOD.replace("\n", ",x\n"), policy)
    assert failed(report) == {"columns_exact": 1}


def test_table_rules_state_their_figures_in_words(tmp_path):
    policy = POLICY + textwrap.dedent("""\
        max_rows = 1
        max_null_fraction = 0.25
        freshness_days = 3
        freshness_column = "joined"
        columns_exact = true
        """)
    data = ("id,email,age,plan,joined,x,y\n1,ada@example.com,36,free,2024-01-05,,\n"
            "2,grace@example.org,45,pro,2023-12-24,,\n3,,50,free,,,\n")
    report = check(tmp_path, "people.csv", data, policy)
    text = render_text([report])
    for sentence in ("1 of 3 rows (33.3%) are empty", "3 rows",
                     "the newest value, 2024-01-05, is "):
        assert f"\n            {sentence}" in text, text
    assert '"33.3%"' not in text and "3: 3 rows" not in text and '"2024-01-05":' not in text
    by_id = {t.id: t for t in report.failures}
    assert by_id["max_rows"].samples[0].value == 3  # --json keeps the figure as the value
    # the extra columns are listed in one sample: nothing more to count
    assert by_id["columns_exact"].count == 2 and "... 1 more" not in text
    assert "first" not in finding_message(by_id["columns_exact"])


def test_formats_pattern_lengths_and_a_team_address_format(tmp_path):
    policy = """\
        [formats.postal_address]
        pattern = '[0-9]+ [A-Za-z .]+, [0-9]{5} [A-Za-z ]+'
        description = "our address format: number street, postcode city"
        [datasets.t]
        paths = ["t*"]
        [datasets.t.columns.phone]
        format = "e164"
        [datasets.t.columns.site]
        format = "url"
        [datasets.t.columns.day]
        format = "iso-date"
        [datasets.t.columns.address]
        format = "postal_address"
        [datasets.t.columns.code]
        pattern = '[A-Z]{2}-[0-9]+'
        min_length = 4
        max_length = 6
        """
    data = ("phone,site,day,address,code\n"
            "+4915112345678,https://example.com/a,2024-02-29,\"12 Main St, 10115 Berlin\",AB-12\n"
            "015112345678,example.com,2023-02-29,Main St Berlin,ab-1234567\n")
    report = check(tmp_path, "t.csv", data, policy)
    assert failed(report) == {"phone.format": 1, "site.format": 1, "day.format": 1,
                              "address.format": 1, "code.pattern": 1, "code.max_length": 1}
    address = next(t for t in report.results if t.id == "address.format")
    assert "our address format" in address.message and rows_of(report, "address.format") == [2]


def test_lookaround_patterns_fall_back_to_python_regular_expressions(tmp_path):
    policy = """\
        [datasets.t]
        paths = ["t*"]
        [datasets.t.columns.pw]
        pattern = '(?=.*[0-9])[a-z0-9]+'
        """
    report = check(tmp_path, "t.csv", "pw\nabc1\nabc\n", policy)
    assert failed(report) == {"pw.pattern": 1} and rows_of(report, "pw.pattern") == [2]


def test_unique_over_many_batches_and_a_composite_primary_key(tmp_path):
    policy = """\
        [datasets.t]
        paths = ["t*"]
        primary_key = ["a", "b"]
        """
    lines = ["a,b"] + [f"{i},{i % 7}" for i in range(30000)] + ["5,5", "7,"]
    file = tmp_path / "t.csv"
    file.write_text("\n".join(lines) + "\n")
    rs = ruleset(tmp_path, policy, "t")
    report = check_source(Source("t.csv", lambda: open(file, "rb"), local=str(file)), rs,
                          fmt=None)
    pk = next(t for t in report.results if t.id == "primary_key")
    assert pk.count == 2  # row 30001 repeats row 6; row 30002 has an empty part
    assert {s.row for s in pk.samples} == {30001, 30002}


@pytest.mark.parametrize("key", ['"id"', '["id", "plan"]'])
def test_primary_key_samples_are_the_first_failing_rows_in_row_order(tmp_path, key):
    policy = POLICY.replace('primary_key = "id"', f"primary_key = {key}")
    data = ("id,email,age,plan,joined\n1,,,free,\n1,,,free,\n"  # row 2 repeats row 1
            + ",,,free,\n" * 5)                                  # rows 3-7: no id
    report = check(tmp_path, "people.csv", data, policy)
    assert failed(report)["primary_key"] == 6
    assert rows_of(report, "primary_key") == [2, 3, 4, 5, 6]


def test_a_primary_key_that_cannot_be_read_says_why(tmp_path):
    data = b"id,email,age,plan,joined\n1,,,free,\n\xff,,,free,\nabc,,,free,\n,,,free,\n"
    for policy in (POLICY, POLICY.replace("unique = true\n", "")):  # id's own keys, or apart
        pk = next(t for t in check(tmp_path, "people.csv", data, policy).failures
                  if t.id == "primary_key")
        assert [(s.row, s.value, s.note) for s in pk.samples] == [
            (2, None, "'id' is not valid UTF-8 text"), (3, None, "'id' is not an integer"),
            (4, None, "'id' is empty")]
        assert "or is empty or not valid" in finding_message(pk)
    policy = """\
        [datasets.v]
        paths = ["v*"]
        primary_key = ["site", "day"]
        """
    data = b"site,day\nberlin,\n\xffb,2024-01-01\n,\n"
    pk = check(tmp_path, "v.csv", data, policy).failures[-1]
    assert [(s.row, s.note) for s in pk.samples] == [
        (1, "'day' is empty"), (2, "'site' is not valid UTF-8 text"),
        (3, "'site' is empty; 'day' is empty")]


def test_bad_values_are_found_in_any_batch_before_or_after_clean_ones(tmp_path):
    """A clean batch is cast whole; a batch that fails is searched slice by slice, and a
    column that failed once is cast in slices from then on: every bad value is found."""
    policy = """\
        [datasets.t]
        paths = ["t*"]
        [datasets.t.columns.n]
        type = "integer"
        max = 1000
        [datasets.t.columns.day]
        type = "date"
        [datasets.t.columns.ok]
        type = "boolean"
        """
    rows = [f"{i % 1000},2024-01-{i % 28 + 1:02d},{'true' if i % 2 else 'false'}" for i in range(120_000)]
    bad = {5: "x", 60_000: "12.5", 119_990: "1e3"}  # the first batch (1 MB), a later one, the end
    for i, value in bad.items():
        rows[i] = f"{value},2024-01-01,true"
    rows[70_000] = "7,2024-02-30,true"  # a date that does not exist, in a batch of its own
    rows[80_000] = "8000,2024-01-01,true"  # parses, breaks max
    file = tmp_path / "t.csv"
    file.write_text("n,day,ok\n" + "\n".join(rows) + "\n")
    rs = ruleset(tmp_path, policy, "t")
    report = check_source(Source("t.csv", lambda: open(file, "rb"), local=str(file)), rs, fmt=None)
    assert failed(report) == {"n.type": 3, "day.type": 1, "n.max": 1}
    assert rows_of(report, "n.type") == [i + 1 for i in sorted(bad)]
    assert rows_of(report, "day.type") == [70_001] and rows_of(report, "n.max") == [80_001]


# ---- bad input: one finding naming the line, never an exception ----------------------------

@pytest.mark.parametrize("name, data, rule, text", [
    ("people.csv", b"", "read.empty-file", "the file is empty"),
    ("people.csv", b"id,email,age,plan,joined\n", "no_rows", "header (line 1) but no data rows"),
    ("people.csv", b"id,email,age,plan,joined", "no_rows", "no data rows"),
    ("people.csv", bytes(range(256)) * 4, "read.binary", "binary data, not text"),
    ("people.csv", b"\xff\xfeid\x00,\x00", "read.binary", "UTF-16"),
    ("people.parquet", b"PAR1 truncated garbage", "read.unreadable", "truncated"),
    ("people.csv.gz", gzip.compress(GOOD.encode(), mtime=0)[:30], "read.unreadable", "truncated"),
    ("people.csv", (GOOD + "3," + "x" * (9 << 20) + ",40,pro,2024-01-01\n").encode(), "read.unreadable",
     "a row is longer than the 8 MiB the CSV reader takes at once"),
])
def test_broken_files_are_one_readable_finding(tmp_path, name, data, rule, text):
    report = check(tmp_path, name, data)
    assert report.verdict == "block"
    t = next(t for t in report.failures if t.id == rule)
    assert text in finding_message(t)


def test_ragged_rows_are_reported_and_later_rows_keep_their_numbers(tmp_path):
    data = GOOD + "3,c@x.io,40\n4,d@x.io,50,pro,2024-01-01,extra\n5,e@x.io,12,pro,2024-01-01\n"
    report = check(tmp_path, "people.csv", data)
    ragged = next(t for t in report.failures if t.id == "read.ragged-row")
    assert ragged.count == 2 and [(s.row, s.line) for s in ragged.samples] == [(3, 4), (4, 5)]
    assert "3 fields where the header has 5" in ragged.samples[0].note
    assert rows_of(report, "age.min") == [5]  # data row 5, although the reader skipped two


def test_broken_quoting_names_the_line(tmp_path):
    data = GOOD + '3,"c@x.io,40,pro,2024-01-01\n4,d@x.io,40,pro,2024-01-01\n'
    report = check(tmp_path, "people.csv", data)
    quote = next(t for t in report.failures if t.id == "read.broken-quote")
    assert "never closed" in finding_message(quote) and quote.samples[0].row == 3


def test_an_unclosed_quote_at_the_end_is_found_by_counting_quotes(tmp_path):
    data = GOOD + '3,c@x.io,40,pro,"2024-01-01\n'
    report = check(tmp_path, "people.csv", data)
    quote = next(t for t in report.failures if t.id == "read.broken-quote")
    assert quote.samples[0].line == 4


def test_non_utf8_bytes_are_counted_per_row(tmp_path):
    data = GOOD.encode() + b"3,c\xe9@x.io,40,pro,2024-01-01\n"
    report = check(tmp_path, "people.csv", data)
    assert failed(report) == {"email.encoding": 1} and rows_of(report, "email.encoding") == [3]


def test_values_are_quoted_once_in_the_text_report(tmp_path):
    policy = '[datasets.v]\npaths = ["v*"]\n[datasets.v.columns.note]\npattern = "[a-z]+"\n'
    report = check(tmp_path, "v.csv", b'note\nok\n\xff\xfeb\nC:\\data\n"say ""hi"""\n', policy)
    encoding, pattern = report.failures
    assert encoding.samples[0].value == "\\xff\\xfeb"  # the bytes written as escapes
    text = render_text([report])
    assert 'row 2 (line 3) "\\xff\\xfeb"' in text and '"\\xff\\xfeb"' in finding_message(encoding)
    assert 'row 3 (line 4) "C:\\data"' in text and 'row 4 (line 5) "say \\"hi\\""' in text


def test_a_byte_order_mark_does_not_move_a_bad_byte_onto_the_header(tmp_path):
    # The bad byte opens line 2: counted without the mark's three bytes, it looked like line 1
    data = b"\xef\xbb\xbfid,email,age,plan,joined\n9,\xe9@x.io,40,pro,2024-01-01\n" + GOOD.encode().split(b"\n", 1)[1]
    report = check(tmp_path, "people.csv", data)
    assert failed(report) == {"email.encoding": 1} and rows_of(report, "email.encoding") == [1]


def test_a_protected_column_keeps_only_the_rules_its_tokens_can_meet(tmp_path):
    policy = POLICY.replace('format = "email"\npii = "email"',
                            'format = "email"\npii = "email"\nprotect = "encrypt"\nrequired = true\n'
                            'min_length = 3')
    rs = ruleset(tmp_path, policy)
    assert [c.rule for c in rs.checks if c.column == "email"] == ["required"]  # format, lengths: not on tokens
    assert rs.columns["email"].type is None and rs.columns["email"].masked
    token = "gg1:enc:0123456789abcdef:" + "A" * 40
    data = GOOD.replace("ada@example.com", token).replace("grace@example.org", "")
    report = check(tmp_path, "people.csv", data, policy)
    assert failed(report) == {"email.required": 1}  # the empty one; the token passes
    with pytest.raises(ConfigError, match="unknown format 'emial'"):  # still validated
        ruleset(tmp_path, policy.replace('format = "email"', 'format = "emial"'))


def test_a_column_named_in_the_rules_but_missing_from_the_file(tmp_path):
    report = check(tmp_path, "people.csv", "id,email,age,plan\n1,a@b.io,30,free\n")
    missing = next(t for t in report.failures if t.id == "joined.missing")
    assert missing.samples[0].line == 1 and "missing from the file" in finding_message(missing)


@pytest.mark.parametrize("declared", [False, True])
def test_a_freshness_column_missing_from_the_file_is_reported_like_a_key_column(tmp_path, declared):
    policy = POLICY + 'freshness_days = 3\nfreshness_column = "updated"\n'
    if declared:
        policy += '[datasets.people.columns.updated]\ntype = "date"\n'
    report = check(tmp_path, "people.csv", GOOD, policy)
    assert failed(report) == {"updated.missing": 1}
    missing = next(t for t in report.failures if t.id == "updated.missing")
    assert missing.samples[0].line == 1 and "missing from the file" in finding_message(missing)
    # a column the file has, declared or not, is checked
    fresh = check(tmp_path, "people.csv", GOOD,
                  POLICY + 'freshness_days = 3\nfreshness_column = "joined"\n')
    assert failed(fresh) == {"freshness": 1}


def test_freshness_of_an_undeclared_column_reads_the_values_that_are_dates(tmp_path):
    """No type is declared, so a stray text is no type failure, and does not hide the dates."""
    import datetime as dt

    today = dt.datetime.now(dt.timezone.utc).date()
    policy = 'version = 1\n[datasets.e]\npaths = ["e*"]\n[datasets.e.rules]\n' \
             'freshness_days = 7\nfreshness_column = "d"\n'
    fresh = f"d\nnotadate\n{today.isoformat()}\n{today.isoformat()}T08:00:00+02:00\n\n"
    assert failed(check(tmp_path, "e.csv", fresh, policy)) == {}
    stale = f"d\nnotadate\n{(today - dt.timedelta(days=8)).isoformat()}\n"
    report = check(tmp_path, "e.csv", stale, policy)
    assert failed(report) == {"freshness": 1}
    note = next(t for t in report.failures if t.id == "freshness").samples[0].note
    head = f"the newest value, {(today - dt.timedelta(days=8)).isoformat()}, is "
    assert note.startswith(head) and note.endswith(" days old")
    assert 8.0 <= float(note[len(head):-len(" days old")]) <= 9.0  # in tenths of a day
    text = check(tmp_path, "e.csv", "d\nnotadate\nnever\n", policy)
    assert "holds no dates or timestamps" in render_text([text])


def test_bad_config_values_are_config_errors_naming_key_and_line(tmp_path):
    with pytest.raises(ConfigError) as info:
        ruleset(tmp_path, POLICY.replace("min = 18", 'min = "eighteen"'))
    assert "datasets.people.columns.age.min" in str(info.value) and ":17:" in str(info.value)
    with pytest.raises(ConfigError) as info:
        ruleset(tmp_path, POLICY.replace('format = "email"', 'format = "emial"'))
    assert "unknown format 'emial'" in str(info.value) and "did you mean 'email'" in str(info.value)


# ---- formats ---------------------------------------------------------------------------------

def _table():
    return pa.table({"id": [1, 2, 2], "email": ["a@x.io", "b@x.io", "bad"], "age": [20, 30, 200],
                     "plan": ["free", "pro", "pro"], "joined": pa.array([None] * 3, pa.date32())})


@pytest.mark.parametrize("name", ["people.parquet", "people.arrow", "people.jsonl", "people.tsv",
                                  "people.csv.gz", "people.jsonl.gz"])
def test_every_format_gives_the_same_findings(tmp_path, name):
    table = _table()
    path = tmp_path / name
    if name.endswith(".parquet"):
        pq.write_table(table, path)
    elif name.endswith(".arrow"):
        with pa.ipc.new_file(str(path), table.schema) as w:
            w.write_table(table)
    else:
        sep = "\t" if ".tsv" in name else ","
        if ".jsonl" in name:
            text = "".join(json.dumps(r) + "\n" for r in table.to_pylist())
        else:
            text = sep.join(table.column_names) + "\n" + "".join(
                sep.join("" if v is None else str(v) for v in r.values()) + "\n"
                for r in table.to_pylist())
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    rs = ruleset(tmp_path)
    report = check_source(Source(name, lambda: open(path, "rb")), rs)  # a pipe, not a file
    assert failed(report) == {"id.unique": 1, "email.format": 1, "age.max": 1, "primary_key": 1}
    assert rows_of(report, "age.max") == [3]


def test_jsonl_with_mixed_types_and_broken_lines_is_read_line_by_line(tmp_path):
    data = '{"id": 1, "age": 30}\n{"id": 2, "age": "old"}\nnot json\n\n{"id": 3, "age": 40}\n'
    policy = """\
        [datasets.t]
        paths = ["t*"]
        [datasets.t.columns.age]
        type = "integer"
        """
    report = check(tmp_path, "t.jsonl", data, policy)
    assert failed(report) == {"read.bad-json": 1, "age.type": 1}
    assert rows_of(report, "age.type") == [2] and rows_of(report, "read.bad-json") == [3]
    assert report.rows == 3


@pytest.mark.parametrize("block", [64, 4 << 20])  # lines looked at in many blocks, or one
def test_jsonl_with_a_few_broken_lines_is_read_by_pyarrow_without_them(tmp_path, monkeypatch, block):
    """Blank and broken lines keep their place in the row numbers, whichever reader reads
    the rest; and the line-by-line reader finds the same."""
    from gitgov.plugins.validation import jsonfilter, jsonread

    monkeypatch.setattr(jsonfilter, "BLOCK", block)
    lines = [json.dumps({"id": i, "age": 30 + i % 50}) for i in range(1, 301)]
    lines[99] = '{"id": 100, "age": '  # row 100: broken
    lines[149] = ""                    # row 150: blank
    lines[199] = '{"id": 200, "id": 7}'  # row 200: a field twice
    data = "\n".join(lines) + "\n"
    policy = """\
        [datasets.t]
        paths = ["t*"]
        [datasets.t.columns.age]
        type = "integer"
        max = 75
        """
    seen: list[str] = []
    real = jsonread.open_lines
    monkeypatch.setattr(jsonread, "open_lines", lambda *a: seen.append("lines") or real(*a))
    report = check(tmp_path, "t.jsonl", data, policy)
    assert seen == []  # pyarrow read it, without the three lines
    assert rows_of(report, "read.bad-json") == [100, 200] and report.rows == 297
    over = [i for i in range(1, 301) if 30 + i % 50 > 75 and i not in (100, 150, 200)]
    assert failed(report)["age.max"] == len(over) and rows_of(report, "age.max") == over[:5]
    monkeypatch.setattr(jsonread, "open_without", lambda source, fmt, size: real(source, fmt))
    careful = check(tmp_path, "t.jsonl", data, policy)
    assert failed(careful) == failed(report) and rows_of(careful, "age.max") == over[:5]


def test_a_truncated_jsonl_gz_with_a_broken_line_is_unreadable_in_one_line(tmp_path):
    lines = [json.dumps({"id": i, "note": "x" * 200}) for i in range(20000)]
    lines[10] = '{"id": 10, "note": '
    whole = gzip.compress(("\n".join(lines) + "\n").encode())
    report = check(tmp_path, "t.jsonl.gz", whole[: len(whole) // 2], "version = 1\n[datasets.t]\npaths = [\"t*\"]\n")
    assert [t.id for t in report.failures] == ["read.unreadable"]
    assert "the gzip data ends too early" in finding_message(report.failures[0])


DATES = """\
    [datasets.t]
    paths = ["t*"]
    [datasets.t.columns.day]
    type = "date"
    [datasets.t.columns.at]
    type = "timestamp"
    """


@pytest.mark.parametrize("bad", [False, True])
def test_dates_in_json_lines_are_read_from_their_text_as_in_csv(tmp_path, bad):
    # pyarrow's JSON reader turns "2024-01-01" into a timestamp: the rules must see the text
    rows = [("2024-01-01", "2024-01-01T10:00:00Z", "2024-01-01"),
            ("2024-02-29", "2024-01-02 11:30:00", "2024-02-29"),
            ("2024-03-01T00:00:00" if bad else "2024-03-01", "2024-03-01", "2024-03-01")]
    jsonl = "".join(json.dumps({"day": d, "at": a, "seen": s}) + "\n" for d, a, s in rows)
    csv = "day,at,seen\n" + "".join(",".join(r) + "\n" for r in rows)
    reports = [check(tmp_path, name, data, DATES) for name, data in (("t.jsonl", jsonl), ("t.csv", csv))]
    for report in reports:
        assert failed(report) == ({"day.type": 1} if bad else {})
        types = {c["name"]: c["type"] for c in report.profile["columns"]}
        assert types == {"day": "date", "at": "timestamp", "seen": "date"}
    assert rows_of(reports[0], "day.type") == rows_of(reports[1], "day.type") == ([3] if bad else [])


def test_parquet_with_a_wrong_column_type_fails_every_row(tmp_path):
    path = tmp_path / "people.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "email": ["a@x.io", "b@x.io"], "age": [1.5, 30.0],
                             "plan": ["free", "pro"], "joined": ["2024-01-01", "x"]}), path)
    report = check_source(Source("people.parquet", lambda: open(path, "rb"), local=str(path)),
                          ruleset(tmp_path))
    got = failed(report)
    assert got["id.type"] == 2 and got["age.type"] == 1 and got["joined.type"] == 1


# ---- plugins' rules ---------------------------------------------------------------------------

@column_rule("not_at", description="is an address at a test domain")
def not_at(values, param):
    import pyarrow.compute as pc
    return pc.ends_with(values, "@" + param)


@table_rule("even_rows", description="has an odd number of rows")
class EvenRows:
    def __init__(self, param):
        self.rows = 0

    def update(self, batch, first_row):
        self.rows += batch.num_rows

    def finish(self):
        return None if self.rows % 2 == 0 else f"{self.rows} rows"


def test_custom_column_and_table_rules_run_like_built_in_ones(tmp_path):
    policy = POLICY.replace('pii = "email"', 'checks = { not_at = "example.com" }') + \
        'checks = { even_rows = true }\n'
    data = GOOD + "3,cy@example.com,50,free,2024-01-01\n"
    registry = Registry([not_at, EvenRows])
    report = check(tmp_path, "people.csv", data, policy, registry=registry)
    assert failed(report) == {"email.not_at": 2, "even_rows": 1}
    assert rows_of(report, "email.not_at") == [1, 3]
    rs = ruleset(tmp_path, policy, registry=registry)
    custom = rs.fingerprint["custom"]  # the version, and a hash of the file the code is in
    assert set(custom) == {"not_at", "even_rows"} and custom["not_at"] == custom["even_rows"]
    assert custom["not_at"].startswith("1:") and len(custom["not_at"]) == 18


def test_unknown_custom_rule_is_a_config_error(tmp_path):
    policy = POLICY.replace('pii = "email"', 'checks = { not_at = "x" }')
    with pytest.raises(ConfigError) as info:
        ruleset(tmp_path, policy)
    assert "unknown column rule 'not_at'" in str(info.value) and "register_rules" in str(info.value)


def test_a_custom_rule_that_raises_is_a_finding(tmp_path):
    @column_rule("boom")
    def boom(values, param):
        raise RuntimeError("kaput")

    policy = POLICY.replace('pii = "email"', 'checks = { boom = 1 }')
    report = check(tmp_path, "people.csv", GOOD, policy, registry=Registry([boom]))
    t = next(t for t in report.failures if t.id == "email.boom")
    assert "the rule failed: RuntimeError: kaput" in finding_message(t)


def test_ruleset_hash_changes_with_the_rules_and_the_referenced_data(tmp_path):
    a = ruleset(tmp_path).digest()
    b = ruleset(tmp_path, POLICY.replace("max = 120", "max = 121")).digest()
    assert a != b and a == ruleset(tmp_path).digest()
    assert ruleset(tmp_path).digest({"x": [("p", "blob1")]}) != a


def test_columns_checked_side_by_side_hand_on_their_failures_in_column_order(tmp_path, monkeypatch):
    """On the pool a slow first column finishes last; the rules a quarantined row broke are
    still listed as one thread would find them, so the quarantine file is the same each run."""
    import time

    from gitgov.plugins.validation import engine as engine_module
    from gitgov.plugins.validation.engine import Engine
    from gitgov.plugins.validation.formats import detect, open_batches
    from gitgov.plugins.validation.report import FileReport

    @column_rule("slow_no_x", values="text")
    def slow_no_x(values, param):
        from gitgov.core import arrow_kernels as pc
        time.sleep(0.05)
        return pc.equal(values, "x")

    policy = """\
    [datasets.pairs]
    paths = ["pairs*"]
    [datasets.pairs.columns.a]
    checks = { slow_no_x = true }
    [datasets.pairs.columns.b]
    allowed = ["ok"]
    """
    rs = ruleset(tmp_path, policy, registry=Registry([slow_no_x]))
    path = tmp_path / "pairs.csv"
    path.write_text("a,b\n" + "y,ok\nx,bad\n" * 50)
    monkeypatch.setattr(engine_module.os, "cpu_count", lambda: 4)
    seen: list[list[str]] = []
    engine = Engine(rs, FileReport("pairs.csv", "pairs", "csv"),
                    on_batch=lambda batch, kept, masks: seen.append([m[0] for m in masks]))
    with open_batches(Source("pairs.csv", lambda: open(path, "rb"), local=str(path)),
                      detect("pairs.csv")) as opened:
        engine.run(opened)
    assert seen == [["a.slow_no_x", "b.allowed"]]


def test_a_header_naming_a_column_twice_is_reported_with_its_line(tmp_path):
    report = check(tmp_path, "people.csv", "id,email,age,age\n1,a@b.io,30,31\n")
    [result] = [t for t in report.results if t.rule in ("read", "file")]
    assert result.id == "read.duplicate-column" and result.count == 1
    assert "line 1 (the header) names column 'age' twice" in finding_message(result)
    assert result.samples[0].line == 1


def test_foreign_key_values_follow_the_reader_that_starts_over(tmp_path):
    """A JSON Lines target whose broken line lies past pyarrow's first block: the keys after
    it still count, read by the reader that takes over."""
    from gitgov.plugins.validation.formats import detect
    from gitgov.plugins.validation.sources import _distinct

    lines = [json.dumps({"customer_id": i, "name": "n" * 20}) for i in range(250_000)]
    lines[200_000] = '{"customer_id": '
    target = tmp_path / "c.jsonl"
    target.write_text("\n".join(lines) + "\n")
    assert target.stat().st_size > 8 << 20  # more than one block of the fast reader
    keys = _distinct({"c.jsonl": None}, "customer_id", lambda p: detect(p, None),
                     lambda p, b: Source(p, lambda: open(target, "rb"), local=str(target)))
    assert len(keys) == 250_000 - 1 and "249999" in keys.to_pylist()
