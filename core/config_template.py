'''The gitgov.toml that `gitgov init` writes.

It must load cleanly as it is (tests/test_config.py checks that), and so
must the commented example once its "# " prefixes are removed.
'''
from __future__ import annotations

EXAMPLE_BEGIN = "# --- example:"
EXAMPLE_END = "# --- end of example ---"

DEFAULT_TOML = '''\
# gitgov.toml: the data-governance policy of this repository.
#
# gitgov checks every key when it loads this file. A typo, a wrong type or a
# bad glob is an error that names the line, so edit freely.

version = 1

# ---------------------------------------------------------------------------
# Datasets: one [datasets.NAME] table each. A file belongs to the FIRST
# dataset in this file with a matching `paths` glob, so put specific datasets
# before broad ones.
#
# Globs are matched against the whole path from the repository root, with "/":
#   *        any characters within one directory ("data/*.csv" skips data/a/b.csv)
#   ?        one character, never "/"
#   [a-z]    one character from a set; [!a-z] one character not in it
#   **       any number of directories: "data/**/*.parquet", "data/raw/**"
#   dir/     a trailing "/" means everything below dir
# A glob without "/" matches top-level files only: write "**/*.csv" for anywhere.
# ---------------------------------------------------------------------------

# --- example: remove the leading "# " from the lines below to use it ---
# [datasets.customers]
# description = "Customer master data, exported nightly from the CRM."
# paths = ["data/raw/customers*.csv"]
# format = "csv"                    # csv, tsv, parquet, jsonl, arrow (default: the extension)
# classification = "confidential"   # public, internal, confidential, restricted
# owner = "alice@example.com"
# stewards = ["bob@example.com"]
# consumers = ["ml-team"]
# encrypt = "file"                  # encrypt the file in Git; false stores it as is
# retention = "7y"                  # days (30d), weeks (12w), months (18m) or years (7y)
# retention_column = "signup_date"  # rows older than the retention expire by this date
# primary_key = "customer_id"
#
# [datasets.customers.columns.customer_id]
# type = "integer"                  # string, integer, float, boolean, date, timestamp
# required = true
# unique = true
#
# [datasets.customers.columns.email]
# type = "string"
# pii = "email"
# protect = "pseudonymize"          # encrypt, pseudonymize, mask, drop or allow
#
# [datasets.customers.rules]
# min_rows = 1
# max_null_fraction = 0.05
# --- end of example ---

[datasets.data]
description = "Everything under data/ until it is described more precisely."
paths = ["data/**/*.csv", "data/**/*.tsv", "data/**/*.parquet", "data/**/*.jsonl", "data/**/*.arrow"]
classification = "internal"

# ---------------------------------------------------------------------------
[roles]
# A role is a list of people (git author emails) that datasets can name as
# owner, stewards, custodians or consumers.
# ml-team = ["carol@example.com", "dan@example.com"]

# ---------------------------------------------------------------------------
[plugins]
# enable = ["validation", "privacy"]  # allow-list; leave it out to run every installed plugin
disable = []                          # plugins never to run
local = []                            # Python files in this repository that define plugins
timeout = 10                          # seconds before a hanging plugin is stopped and reported

# Settings for one plugin go in a table named after it, e.g.:
# [plugins.privacy]
# sample_rows = 1000

# ---------------------------------------------------------------------------
[limits]
max_file_size = "50MB"   # larger files are refused at commit: bytes, "50MB" or "1GiB"
# Files that are never committed, on top of the built-in list (.gitgov/keys/**,
# *.pem, *.key, id_rsa, id_ed25519, .env, *.p12, *.pfx, credentials.json, ...).
# A glob without "/" here matches the file name in any directory.
secret_names = []

# ---------------------------------------------------------------------------
[watch]
# `gitgov watch start` records and checks data as it lands on disk, before it is
# committed; `enabled = false` turns it off for this repository.
# paths = ["data/**"]                 # default: the dataset globs above
ignore = ["**/*.tmp", "**/*.part"]
debounce_ms = 500

# ---------------------------------------------------------------------------
[retention]
# default = "5y"                      # for datasets without their own `retention`
action = "report"                     # "report" expired data, or "dispose" of it
'''
