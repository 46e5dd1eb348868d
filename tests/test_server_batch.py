"""A push checks many small file versions together: the personal-data scan of one
dataset's files in one pass, the previous version of each file from the push's own
diff. The results must be exactly those of checking each file alone."""
from __future__ import annotations

import pytest

from gitgov.plugins.privacy.batch import classify_many
from gitgov.plugins.privacy.detectors import BUILTIN
from gitgov.plugins.privacy.scan import classify, read_table
from server_helpers import GOOD, commit_as, fresh, push, pushes, server_entries, template

FILES = [
    "id,contact,phone,card\n1,ada@example.com,+1 415 555 0100,4111 1111 1111 1111\n"
    "2, bob@example.org ,555-0101,4111 1111 1111 1112\n3,,  ,\n4,gg1:abc,gg1:def,x\n",
    "id,contact\n1,not an email\n2,carol@example.net\n",
    "contact,id,note\n\n,7,\"a, b\"\n dan@example.com ,8,hello\n",
    "id,contact,phone,card\n",  # a header and no rows
    "iban,ip,born\nGB82 WEST 1234 5698 7654 32,192.168.0.1,1990-01-02\n"
    "DE00 0000 0000 0000 0000 00,::1,2001-13-40\n",
]


def test_scanning_many_files_at_once_finds_what_scanning_each_alone_finds():
    tables = [read_table(text.encode(), "csv", f"f{i}.csv") for i, text in enumerate(FILES)]
    together = classify_many(tables, BUILTIN)
    alone = [classify(t, BUILTIN) for t in tables]
    assert [[s.to_dict(0.0) for s in scans] for scans in together] == \
        [[s.to_dict(0.0) for s in scans] for scans in alone]
    assert any(s.found for scans in together for s in scans)  # the files do hold personal data
    assert together[0][1].protected == 1 and together[0][1].sampled == 3


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return template(tmp_path_factory)


def test_a_push_of_many_files_names_each_bad_one_and_compares_with_the_parent(base, tmp_path):
    central, work = fresh(base, tmp_path)
    commit_as(work, "dana", {"data/customers_b.csv": GOOD, "data/customers_d.csv": GOOD + "3,33\n",
                             "data/customers_c.csv": "id,age,contact\n1,30,a@example.com\n"
                                                     "2,41,b@example.org\n"}, "more customers")
    commit_as(work, "dana", {"data/customers.csv": "id\n1\n2\n"}, "drop age")
    commit_as(work, "dana", {"data/customers_d.csv": "id\n1\n"}, "drop age from a version of this push")
    result = push(work, "main")
    assert result.returncode == 1
    assert "data/customers_c.csv" in result.stderr and "pii-undeclared" in result.stderr
    assert "drift.schema" in result.stderr and "removed column age" in result.stderr
    reasons = {(r["path"], r["rule"]) for r in pushes(central)[-1]["reasons"]}
    assert reasons == {("data/customers_c.csv", "privacy/pii-undeclared"),
                       ("data/customers.csv", "validation/age.missing"),
                       ("data/customers.csv", "validation/drift.schema"),
                       ("data/customers_d.csv", "validation/age.missing"),
                       ("data/customers_d.csv", "validation/drift.schema")}
    scans = {e.subject: e.payload["columns"]
             for e in server_entries(central, "pii_classification")}
    assert scans["data/customers_b.csv"] == []
    assert [c["kind"] for c in scans["data/customers_c.csv"]] == ["email"]
