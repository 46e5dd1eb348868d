"""The watch daemon: governance between commits.

Files that land in governed folders are hashed once they stop changing,
checked by the same plugins as at commit time, and recorded in the ledger as
``DataAdded(stage="observed")`` or ``DataRemoved``. Filesystem events are only
hints; a reconciliation scan against the ledger is the truth (reconcile.py).

Modules: scope (what is watched), hashing and cache (reading files once),
versions (what the ledger already holds), reconcile (the scan), engine (the
loop: debounce, hash, record), recorder (events through the bus, alerts),
observer (watchdog glue), settings ([watch] and timings), daemon (lock, pid,
status, start/stop).
"""
