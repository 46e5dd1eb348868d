"""Runs a dataset's rules over a file, one record batch at a time.

Per batch and column: the raw values are converted to the declared type
(coerce.py), and every rule turns them into a mask of failing rows that a
Tally counts (tally.py). Rules that need the whole file (uniqueness, the
primary key, null shares, row counts, freshness) finish at the end. The
same pass feeds the profile (profile.py). Nothing but counters, samples,
keys of unique columns and sketches outlives a batch.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from . import keyrules, tables
from .coerce import as_text, cast_text, convert, is_raw, logical_of, Inferred
from .formats import Batches, ReadError
from .profile import ColumnProfile
from .report import FileReport
from .ruleset import TYPE_WORDS, CheckSpec, ColumnSpec, RuleSet, format_mask
from .tally import KeyTracker, Tally, mask_value, shown

Where = Callable[[int], "tuple[int, int | None]"]


class ColumnState:
    """One column of the file: its rules, its type, its profile and its unique keys."""

    def __init__(self, name: str, spec: ColumnSpec | None, checks: list[CheckSpec], mode: str,
                 known: dict[str, Any]):
        self.name, self.spec, self.checks = name, spec, checks
        self.declared = spec.type if spec else None
        self.masked = spec.masked if spec else False
        self.inferred = None if self.declared else Inferred()
        self.profile = ColumnProfile(name, mode, self.masked)
        self.profile.declared = self.declared
        unique = any(c.rule == "unique" for c in checks)
        self.keys = KeyTracker(known.get(f"{name}.unique")) if unique else None
        self.clean = True  # no value failed to parse so far: batches are cast whole first
        # only parsed into its type, never matched as text
        self.parse_only = self.declared in ("integer", "float", "boolean", "date", "timestamp") and \
            not any(c.values == "text" or c.rule == "format" for c in checks)


class Engine:
    """One check of one file. `known_repeats` and `on_batch` serve the quarantine split."""

    def __init__(self, ruleset: RuleSet, report: FileReport, *, references: dict | None = None,
                 profile_mode: str = "lite", known_repeats: dict[str, Any] | None = None,
                 on_batch: Callable[[Any, int, list], None] | None = None):
        self.rs, self.report = ruleset, report
        self.references = references or {}
        self.mode = profile_mode
        self.known = known_repeats or {}
        self.on_batch = on_batch
        self.tallies: dict[str, Tally] = {}
        self.states: dict[str, ColumnState] = {}
        self.pk: KeyTracker | None = None
        self.pk_shared: str | None = None
        self.table_rules: list[tuple[CheckSpec, Any]] = []
        self.opened: Batches | None = None
        self.pool: ThreadPoolExecutor | None = None
        self.repeats: dict[str, Any] = {}  # repeated keys by tally id, for the quarantine split
        self.newest: Any = None  # the undeclared freshness column's newest date (tables.py)
        self._masks: list | None = None

    # ---- tallies ---------------------------------------------------------------------

    def tally(self, spec_or_id: CheckSpec | str, rule: str = "", column: str | None = None,
              message: str = "", severity: str = "error", param: Any = None) -> Tally:
        key = spec_or_id.id if isinstance(spec_or_id, CheckSpec) else spec_or_id
        if key not in self.tallies:
            if isinstance(spec_or_id, CheckSpec):
                s = spec_or_id
                self.tallies[key] = Tally(s.id, s.rule, s.column, s.severity, s.message, s.shown)
            else:
                self.tallies[key] = Tally(key, rule, column, severity, message, param)
        return self.tallies[key]

    def fail(self, tally: Tally, mask: Any, where: Where, value_at: Callable[[int], Any],
             note_at: Callable[[int], str] | None = None) -> None:
        from gitgov.core import arrow_kernels as pc

        if mask is None:
            return
        if mask.null_count:
            mask = pc.fill_null(mask, False)
        tally.add_mask(mask, where, value_at, note_at)
        if self._masks is not None and mask.true_count:
            self._masks.append((tally.id, mask))

    # ---- the run ------------------------------------------------------------------------

    def run(self, opened: Batches) -> None:
        self.opened = opened
        for spec in self.rs.checks:  # every rule is listed in the report, failing or not
            if spec.column is None or spec.column in opened.names:
                self.tally(spec)
        present = self._header(opened.names)
        for name in opened.names:
            spec = self.rs.columns.get(name)
            checks = self.rs.column_checks(name) if name in present else []
            self.states[name] = ColumnState(name, spec, checks, self.mode, self.known)
        if self.rs.primary_key and all(c in opened.names for c in self.rs.primary_key):
            pk = self.rs.primary_key
            if len(pk) == 1 and self.states[pk[0]].keys is not None:
                self.pk_shared = pk[0]  # the column's own unique rule already keeps its keys
            else:
                self.pk = KeyTracker(self.known.get("primary_key"))
            self.tally("primary_key", "primary_key", None, "the primary key ("
                       + ", ".join(self.rs.primary_key) + ") repeats an earlier row, or is empty or "
                       "not valid",
                       self.table_severity("primary_key"), list(self.rs.primary_key))
        self._start_table_rules()
        kept = 0
        # A thread reads ahead (formats.prefetch) and columns are checked side by side. The
        # reader needs about half of what the checks need (CSV), so on two cores a pool of
        # two keeps both busy: 1M-row CSV 1.04 s -> 0.97 s, median of 9.
        workers = min(4, os.cpu_count() or 1)
        if len(self.states) > 1 and workers > 1:
            self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gitgov-check")
        try:
            for batch in opened:
                self._batch(batch, kept)
                kept += batch.num_rows
        except ReadError as exc:
            row = opened.data_row(kept) if kept or opened.skipped else 1
            self.tally("read." + exc.code, "file", None, exc.message).add(
                row, None, exc.line or opened.line_of(row), note="reading stopped here")
        finally:
            if self.pool is not None:
                self.pool.shutdown()
                self.pool = None
        self.report.rows = kept
        self._finish(kept)

    def table_severity(self, rule: str) -> str:
        table = self.rs.table
        return (table.get("severities") or {}).get(rule) or table.get("severity") or "error"

    def _header(self, names: list[str]) -> set[str]:
        """Columns the rules name but the file lacks; columns_required and columns_exact."""
        have = set(names)
        listed = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        line = 1 if self.opened and self.opened.line_offset == 1 else None
        fresh = self.rs.table.get("freshness_column") if "freshness_days" in self.rs.table else None
        # a protect = "drop" column is absent from a protected file, as it must be
        kept = [n for n, c in self.rs.columns.items() if c.conf.get("protect") != "drop"]
        wanted = dict.fromkeys(kept + list(self.rs.table.get("columns_required") or [])
                               + list(self.rs.primary_key) + list(self.rs.foreign_keys)
                               + ([fresh] if fresh else []))
        for col in wanted:
            if col not in have:
                self.tally(f"{col}.missing", "missing_column", col,
                           f"is named in the rules but missing from the file (its columns: {listed})",
                           "error").add(None, None, line)
        if self.rs.table.get("columns_exact"):
            extra = [n for n in names if n not in self.rs.columns]
            tally = self.tally("columns_exact", "columns_exact", None,
                               "has columns that the rules do not declare (columns_exact = true)",
                               self.table_severity("columns_exact"), True)
            if extra:
                tally.add(None, ", ".join(extra), line, n=len(extra))
        return have & set(self.rs.columns)

    def _start_table_rules(self) -> None:
        for spec in self.rs.checks:
            if spec.column is None and spec.impl is not None:
                try:
                    self.table_rules.append((spec, spec.impl.check(spec.param)))
                except Exception as exc:  # noqa: BLE001 - a plugin's rule must not crash a check
                    self.tally(spec).add(None, None, note=f"the rule failed to start: {exc!r}")

    def _where(self, kept: int) -> Where:
        opened = self.opened

        def where(i: int) -> tuple[int, int | None]:
            row = opened.data_row(kept + i)
            return row, opened.line_of(row)
        return where

    def _batch(self, batch: Any, kept: int) -> None:
        self._masks = [] if self.on_batch else None
        where = self._where(kept)
        texts: dict[str, Any] = {}
        typed: dict[str, Any] = {}
        work = [(name, self.states[name], batch.column(i))
                for i, name in enumerate(batch.schema.names) if name in self.states]
        if self.pool is not None:  # Arrow kernels release the GIL: columns run side by side
            done = [self.pool.submit(self._column, st, raw, where) for _n, st, raw in work]
            results = [d.result() for d in done]
        else:
            results = [self._column(st, raw, where) for _n, st, raw in work]
        for (name, _st, _raw), (values, text) in zip(work, results):
            typed[name], texts[name] = values, text
        keyrules.check(self, batch, typed, texts, where)
        tables.newest_in_batch(self, typed, texts)
        for spec, rule in self.table_rules:
            try:
                rule.update(batch, kept)
            except Exception as exc:  # noqa: BLE001
                self.tally(spec).add(None, None, note=f"the rule failed: {exc!r}")
                self.table_rules.remove((spec, rule))
                break
        if self.on_batch is not None:
            self.on_batch(batch, kept, self._in_column_order(batch))

    def _in_column_order(self, batch: Any) -> list:
        """The batch's failure masks as one thread would have found them: columns finish in
        any order on the pool, and the rules a quarantined row broke must not."""
        order = {name: i for i, name in enumerate(batch.schema.names)}
        last = len(order)  # table rules (the primary key) come after every column
        return sorted(self._masks or [],
                      key=lambda m: order.get(self.tallies[m[0]].column, last))

    def _column(self, st: ColumnState, raw: Any, where: Where) -> tuple[Any, Any]:
        import pyarrow as pa
        from gitgov.core import arrow_kernels as pc

        if is_raw(raw.type) and st.parse_only and self.mode == "lite" and pa.types.is_binary(raw.type):
            # Numbers and dates are parsed, not read as text: bytes that are not UTF-8 fail
            # the parse and are reported as such, so validating them first is wasted work.
            text, bad_utf8, checked = raw.view(pa.string()), None, False
        else:
            text, bad_utf8 = (as_text(raw) if is_raw(raw.type) else (None, None))
            checked = True
        memo = {"text": text}

        def text_of() -> Any:
            if memo["text"] is None:
                memo["text"] = pc.cast(raw, pa.string())
            return memo["text"]

        def value_at(i: int) -> Any:
            unsafe = bad_utf8 is not None or memo["text"] is None or not checked
            value = raw[i].as_py() if unsafe else memo["text"][i].as_py()
            return shown(value, st.masked)

        if bad_utf8 is not None:
            self.fail(self.tally(f"{st.name}.encoding", "encoding", st.name,
                                 "is not valid UTF-8 text", "error"), bad_utf8, where, value_at)
        values, logical = self._typed(st, raw, text, where, value_at)
        if any(c.rule == "required" for c in st.checks):
            self.fail(self.tally(f"{st.name}.required"), pc.is_null(raw), where, value_at)
        for spec in st.checks:
            if spec.impl is not None:
                use = values if (spec.values == "typed" and st.declared) else text_of()
                self._rule(spec, use, where, value_at)
            elif spec.rule == "format":
                self.fail(self.tally(spec), format_mask(text_of(), spec.param), where, value_at)
        if st.keys is not None:
            repeats = st.keys.add(values if st.declared else text_of())
            if repeats is not None:
                self.fail(self.tally(f"{st.name}.unique"), repeats, where, value_at)
        st.profile.update(values, logical, raw.null_count, text_of() if self.mode == "full" else None)
        return values, memo["text"]

    def _typed(self, st: ColumnState, raw: Any, text: Any, where: Where,
               value_at: Callable[[int], Any]) -> tuple[Any, str]:
        from gitgov.core import arrow_kernels as pc

        if not st.declared:
            if text is not None:
                return st.inferred.convert(text), st.inferred.logical or "string"
            return raw, logical_of(raw.type)
        if text is not None:
            values, bad = cast_text(text, st.declared, whole=st.clean)
            st.clean, mismatch = bad is None, None
        else:
            values, bad, mismatch = convert(raw, st.declared)
        tally = self.tally(f"{st.name}.type", "type", st.name, f"is not {TYPE_WORDS[st.declared]}",
                           "error", st.declared)
        if mismatch is not None:
            count = len(raw) - raw.null_count
            if count:
                row, line = where(0)
                tally.add(row, None, line, note=f"the column holds {mismatch} values", n=count)
                if self._masks is not None:
                    self._masks.append((tally.id, pc.is_valid(raw)))
        self.fail(tally, bad, where, value_at)
        return values, st.declared

    def _rule(self, spec: CheckSpec, values: Any, where: Where, value_at: Callable[[int], Any]) -> None:
        tally = self.tally(spec)
        if tally.samples and tally.samples[-1].note and tally.samples[-1].note.startswith("the rule failed"):
            return  # a rule that raised once is not asked again
        try:
            mask = spec.impl.check(values, spec.param)
        except Exception as exc:  # noqa: BLE001 - a custom rule's bug becomes a finding
            tally.add(None, None, note=f"the rule failed: {type(exc).__name__}: {exc}")
            return
        self.fail(tally, mask, where, value_at)

    # ---- the end of the file ---------------------------------------------------------------

    def _finish(self, rows: int) -> None:
        opened = self.opened
        where = self._where(0)
        for st in self.states.values():
            if st.keys is not None and st.keys.known is None:
                self.repeats[f"{st.name}.unique"] = st.keys.finish(
                    self.tally(f"{st.name}.unique"), where,
                    lambda v, m=st.masked: shown(self.as_written(v), m))
        keyrules.finish(self, where)
        tables.nulls(self, rows)
        tables.row_count(self, rows)
        tables.freshness(self)
        for spec, rule in self.table_rules:
            tables.finish_custom(self, spec, rule)
        # A row that could not be split into columns cannot show its personal data's columns
        # masked and the rest as written: with any such column, the whole row is masked.
        personal = any(c.masked for c in self.rs.columns.values())
        for p in opened.problems:
            text = (mask_value(p.text) if personal else p.text) if p.text else None
            self.tally("read." + p.code, "read", None, _PROBLEM[p.code]).add(
                p.row, text, p.line or opened.line_of(p.row), note=p.message)
        self._exact_lines(rows + len(opened.skipped))
        self.report.results = sorted(self.tallies.values(), key=self._order)
        self.report.profile = {"rows": rows, "columns": [st.profile.result() for st in self.states.values()]}

    def _exact_lines(self, rows: int) -> None:
        """Lines were counted one per row while reading; where rows span lines (or blank
        lines lie between them), the reader finds each sampled row's own line."""
        exact = self.opened.exact_lines if self.opened is not None else None
        if exact is None:
            return
        samples = [s for t in self.tallies.values() for s in t.samples
                   if s.row is not None and s.line is not None]
        lines = exact(rows, {s.row for s in samples}) if samples else {}
        for s in samples:
            s.line = lines.get(s.row, s.line)

    def as_written(self, value: Any) -> Any:
        """A typed key as a text file holds it: samples of every rule on a CSV show text
        (the others show the cell as read, "7"), not 7 for some and "7" for others."""
        text = self.opened is not None and self.opened.fmt.name in ("csv", "tsv")
        return str(value) if text and value is not None and not isinstance(value, (str, bytes)) \
            else value

    def _order(self, t: Tally) -> tuple:
        """Reading problems first (they explain the rest), then by column, then table rules."""
        if t.rule in ("read", "file"):
            return (0, 0, 0)
        if t.rule in ("missing_column", "columns_exact"):
            return (1, 0, 0)
        names = list(self.states)
        if t.column in self.states:
            rank = _RULE_RANK.get(t.rule, len(_RULE_RANK))
            return (2, names.index(t.column), rank)
        return (3, 0, 0)


_RULE_RANK = {r: i for i, r in enumerate((
    "encoding", "type", "required", "unique", "min", "max", "min_length", "max_length", "allowed",
    "pattern", "format", "foreign_key", "max_null_fraction", "freshness"))}
_PROBLEM = {
    "ragged-row": "row|whose number of fields differs from the header (skipped)",
    "broken-quote": "quoted value|that is never closed",
    "bad-json": "line|that cannot be read as a JSON object (skipped)",
}
