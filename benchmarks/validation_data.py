"""The data of the validation benchmark: 10 columns, with defects planted in known rows.

The clean values are computed with Arrow kernels from each row's id (so a
2 GB file is quick to make), then the planted cells are replaced. `plant`
says which row gets which bad value and how many failures each rule must
report, for gitgov and for pandera alike.
"""
from __future__ import annotations

from pathlib import Path

COUNTRIES = ["DE", "FR", "US", "JP", "NA", "GB", "PL", "NL"]
PLANS = ["free", "basic", "pro", "enterprise"]
# rule id -> (column, bad value maker, how many); each kind in its own rows
DEFECTS = {
    "age.type": ("age", lambda i: "abc", 40),
    "age.max": ("age", lambda i: "150", 100),
    "email.format": ("email", lambda i: f"user{i}.example.com", 100),
    "score.min": ("score", lambda i: "-1.5", 30),
    "country.allowed": ("country", lambda i: "XX", 50),
    "signup.type": ("signup", lambda i: "2024-02-30", 25),
    "active.type": ("active", lambda i: "maybe", 10),
    "phone.format": ("phone", lambda i: f"0049{151000000 + i}", 60),
    "name.required": ("name", lambda i: None, 15),
}
DUPLICATE_IDS = 20  # rows whose id repeats the row before: id.unique and primary_key


def plant(rows: int) -> tuple[dict[str, dict[int, str | None]], dict[str, int]]:
    """Which row (0-based) gets which bad value, and the counts each rule must report."""
    planted: dict[str, dict[int, str | None]] = {}
    expected: dict[str, int] = {}
    used: set[int] = set()
    for n, (rule, (column, bad, count)) in enumerate(DEFECTS.items()):
        step = rows // (count + 1)
        cells = planted.setdefault(column, {})
        for k in range(count):
            i = (k + 1) * step + 7 * n + 3
            while i in used:
                i += 1
            used.add(i)
            cells[i] = bad(i)
        expected[rule] = count
    dups = [(k + 1) * (rows // (DUPLICATE_IDS + 1)) + 101 for k in range(DUPLICATE_IDS)]
    planted["id"] = {i: str(i) for i in dups}  # row i carries id i: the id of the row before
    expected["id.unique"] = expected["primary_key"] = DUPLICATE_IDS
    return planted, expected


def table(rows: int, first_id: int = 1, planted: dict | None = None):
    """The clean columns, computed with Arrow kernels, then the planted cells replaced."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pa.array(range(first_id, first_id + rows), pa.int64())
    idtext = pc.cast(ids, pa.string())

    def mod(k: int, m: int):
        """(id * k) mod m, a well-spread pseudo-random value per row."""
        x = pc.bit_wise_and(pc.multiply(ids, k), 0x7FFFFFFF)
        return pc.subtract(x, pc.multiply(pc.divide(x, m), m))

    days = pc.cast(pc.add(mod(2654435761, 5479), 14610), pa.int32())  # 2010-01-01 + 0..15 years
    cols = {
        "id": idtext,
        "email": pc.binary_join_element_wise("user", idtext, "@example.com", ""),
        "age": pc.cast(pc.add(mod(7919, 73), 18), pa.string()),
        "score": pc.cast(pc.divide(pc.cast(mod(104729, 100001), pa.float64()), 1000.0), pa.string()),
        "country": pc.take(pa.array(COUNTRIES), pc.bit_wise_and(ids, 7)),
        "signup": pc.cast(days.cast(pa.date32()), pa.string()),
        "active": pc.take(pa.array(["true", "false"]), pc.bit_wise_and(pc.shift_right(ids, 1), 1)),
        "plan": pc.take(pa.array(PLANS), pc.bit_wise_and(pc.shift_right(ids, 3), 3)),
        "phone": pc.binary_join_element_wise(
            "+49", pc.cast(pc.add(mod(48271, 899999999), 100000000), pa.string()), ""),
        "name": pc.binary_join_element_wise("Name ", idtext, ""),
    }
    for column, cells in (planted or {}).items():
        values = cols[column].to_pylist()
        for i, v in cells.items():
            values[i] = v
        cols[column] = pa.array(values, pa.string())
    return pa.table(cols)


def write_csv(tbl, path: Path, append: bool = False) -> None:
    import pyarrow.csv as pcsv

    opts = pcsv.WriteOptions(include_header=not append, quoting_style="none")
    with open(path, "ab" if append else "wb") as fh:
        pcsv.write_csv(tbl, fh, write_options=opts)


def make_data(folder: Path, rows: int) -> dict[str, int]:
    import pyarrow.parquet as pq

    planted, expected = plant(rows)
    tbl = table(rows, planted=planted)
    write_csv(tbl, folder / "bench.csv")
    pq.write_table(tbl, folder / "bench.parquet")
    return expected


def make_big(path: Path, target: int, rows: int) -> int:
    """A CSV of about `target` bytes from clean chunks with ids running on; returns rows."""
    written, first = 0, 1
    while True:
        write_csv(table(rows, first_id=first), path, append=first > 1)
        first += rows
        written = path.stat().st_size
        if written >= target:
            return first - 1
