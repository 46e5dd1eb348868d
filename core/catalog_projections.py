"""Views for people: the ledger as the catalog, quality, runs, privacy and audit tables.

`datasette .gitgov/ledger.db` or `sqlite3 .gitgov/ledger.db` shows these next
to the projection tables. They are plain SQL over the journal and the
projections, so they need no projector and are never stale; projections.py
registers them, and `gitgov ledger rebuild` recreates them with the rest.

Privacy and retention facts are read from the journal by kind (the
`pii_classification`, `retention_expired` and `data_disposed` entries), so
the views work whichever plugin recorded them.
"""
from __future__ import annotations

TABLES: tuple[str, ...] = ()
# Entry kinds that every commit, check and run writes; the others are acts
# someone chose (revealing, disposing, erasing, attesting, changing policy).
ROUTINE_KINDS = ("data_added", "data_removed", "commit_created", "quality_check", "pii_classification",
                 "lineage", "run_started", "run_snapshot", "run_finished", "quality_alert",
                 "push_requested")
# A query must use this very text to use the index below. Not `kind NOT IN (...)`:
# SQLite builds a temporary b-tree for an IN list each time a statement runs, and
# the partial index evaluates this on every insert, which doubled append time.
NOTABLE = " AND ".join(f"kind <> '{k}'" for k in ROUTINE_KINDS)
VIEWS = ("current_files", "latest_quality", "dataset_summary", "run_summary", "failed_reproductions")
# (The lenses on the journal itself are not in VIEWS: JOURNAL_LENSES below drops
# and creates each of them again.)

def current_files_view() -> str:
    """The statement of current_files as it is now (a ledger migration recreates it)."""
    return next(s for s in SCHEMA if s.lstrip().startswith("CREATE VIEW current_files"))


SCHEMA: tuple[str, ...] = (
    # The catalog reads the checks of one file, and the versions of one dataset, in order.
    "CREATE INDEX quality_checks_by_path ON quality_checks(path, seq)",
    "CREATE INDEX dataset_versions_by_dataset ON dataset_versions(dataset, seq)",
    # The version of each governed file the repository holds now: its newest
    # entry, skipping staged versions a check blocked (they were never committed)
    # and `gitgov check` runs (a look at the working tree, which records no removal).
    """CREATE VIEW current_files AS
        SELECT v.dataset, v.path, v.blob, v.sha256, v.size, v.stage, v.commit_sha, v.verdict,
               v.time, v.actor, v.seq
        FROM (SELECT DISTINCT path FROM dataset_versions) AS p
        JOIN dataset_versions AS v ON v.seq = (
            SELECT MAX(w.seq) FROM dataset_versions AS w WHERE w.path = p.path
              AND w.stage IS NOT 'checked'
              AND NOT (w.stage IS 'staged' AND w.verdict IS 'block' AND w.change = 'added'))
        WHERE v.change = 'added'""",
    # The newest quality check of each dataset, whatever its verdict.
    """CREATE VIEW latest_quality AS
        SELECT q.dataset, q.path, q.blob, q.verdict, q.rows, q.columns, q.errors, q.warnings,
               q.stage, q.time, q.actor, q.seq
        FROM quality_checks AS q
        JOIN (SELECT dataset, MAX(seq) AS seq FROM quality_checks GROUP BY dataset) AS m
          ON m.seq = q.seq""",
    # One row per dataset the ledger has seen (ownership lives in gitgov.toml:
    # `gitgov catalog --json` joins the two). A version is a distinct content of a file.
    """CREATE VIEW dataset_summary AS
        WITH files AS (SELECT dataset, COUNT(*) AS n, SUM(size) AS bytes, MAX(time) AS changed
                       FROM current_files GROUP BY dataset)
        SELECT d.name AS dataset,
               (SELECT COUNT(DISTINCT w.path || char(0) || COALESCE(w.blob, w.sha256))
                FROM dataset_versions AS w WHERE w.dataset = d.name AND w.change = 'added') AS versions,
               f.n AS current_files, f.bytes AS current_bytes,
               (SELECT time FROM journal WHERE seq = d.first_seq) AS first_recorded,
               f.changed AS last_changed, q.verdict AS latest_verdict, q.rows AS latest_rows,
               q.errors AS latest_errors, q.warnings AS latest_warnings, q.time AS latest_check
        FROM datasets AS d
        LEFT JOIN files AS f ON f.dataset = d.name
        LEFT JOIN latest_quality AS q ON q.dataset = d.name""",
    # Runs with their metrics as one JSON object, file counts and the newest reproduction.
    """CREATE VIEW run_summary AS
        SELECT r.run_id, r.name, r.status, r.started, r.finished, r.duration, r.actor,
               r.commit_sha, r.dirty, r.params, r.seed,
               (SELECT json_group_object(m.name, m.value) FROM metrics AS m
                WHERE m.run_id = r.run_id) AS metrics,
               (SELECT COUNT(*) FROM run_files AS f WHERE f.run_id = r.run_id AND f.role = 'input') AS inputs,
               (SELECT COUNT(*) FROM run_files AS f WHERE f.run_id = r.run_id AND f.role = 'output') AS outputs,
               (SELECT p.verdict FROM reproductions AS p WHERE p.run_id = r.run_id
                ORDER BY p.seq DESC LIMIT 1) AS reproduced
        FROM runs AS r""",
    # Runs whose newest reproduction did not give the recorded results.
    """CREATE VIEW failed_reproductions AS
        SELECT p.run_id, r.name, p.verdict, p.time, p.actor, p.summary, p.seq
        FROM reproductions AS p
        JOIN (SELECT run_id, MAX(seq) AS seq FROM reproductions GROUP BY run_id) AS m ON m.seq = p.seq
        LEFT JOIN runs AS r ON r.run_id = p.run_id
        WHERE p.verdict != 'reproduced'""",
)

# The journal's own indexes and lenses: they read the journal alone, so a change
# to them needs no replay of the projections (ledger schema step 6).
JOURNAL_LENSES: tuple[str, ...] = (
    # Partial indexes of the journal for the few kinds the catalog looks up by
    # kind (the journal is indexed by subject only). They cover rare entries, so
    # appends barely pay for them; IF NOT EXISTS: the journal outlives rebuilds.
    "CREATE INDEX IF NOT EXISTS journal_commits ON journal(seq) WHERE kind = 'commit_created'",
    "CREATE INDEX IF NOT EXISTS journal_retention ON journal(seq)"
    " WHERE kind IN ('retention_expired', 'data_disposed')",
    f"CREATE INDEX IF NOT EXISTS journal_notable ON journal(seq) WHERE {NOTABLE}",
    # Who did what, when: the journal with the fields people filter on.
    "DROP VIEW IF EXISTS audit_trail",
    """CREATE VIEW audit_trail AS
        SELECT seq, time, actor, kind, subject, source,
               json_extract(payload, '$.dataset') AS dataset,
               json_extract(payload, '$.verdict') AS verdict,
               json_array_length(payload, '$.findings') AS findings
        FROM journal""",
    # The newest privacy scan of each file: one row per column that looks personal.
    "DROP VIEW IF EXISTS pii_columns",
    """CREATE VIEW pii_columns AS
        SELECT j.subject AS path, json_extract(j.payload, '$.dataset') AS dataset,
               json_extract(c.value, '$.column') AS column_name,
               json_extract(c.value, '$.kind') AS kind,
               json_extract(c.value, '$.confidence') AS confidence,
               json_extract(c.value, '$.sampled') AS sampled,
               json_extract(c.value, '$.protected') AS protected, j.time, j.seq
        FROM journal AS j, json_each(j.payload, '$.columns') AS c
        WHERE j.kind = 'pii_classification'
          AND j.seq = (SELECT MAX(k.seq) FROM journal AS k
                       WHERE k.subject = j.subject AND k.kind = 'pii_classification')""",
    # Data found past its retention period, and data disposed of.
    "DROP VIEW IF EXISTS retention_events",
    """CREATE VIEW retention_events AS
        SELECT seq, time, actor, kind, subject AS path,
               json_extract(payload, '$.dataset') AS dataset,
               json_extract(payload, '$.expired_on') AS expired_on,
               json_extract(payload, '$.rows') AS expired_rows,
               json_extract(payload, '$.rows_before') AS rows_before,
               json_extract(payload, '$.rows_after') AS rows_after,
               json_extract(payload, '$.reason') AS reason
        FROM journal WHERE kind IN ('retention_expired', 'data_disposed')""",
    # Acts someone chose, newest first: reveals, disposals, erasures, attestations, policy changes.
    "DROP VIEW IF EXISTS notable_entries",
    f"""CREATE VIEW notable_entries AS
        SELECT seq, time, actor, kind, subject, source, json_extract(payload, '$.dataset') AS dataset
        FROM journal WHERE {NOTABLE} ORDER BY seq DESC""",
)
SCHEMA += JOURNAL_LENSES
