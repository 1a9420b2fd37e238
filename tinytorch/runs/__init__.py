"""The run store: schema, writer and reader side by side (SQLite, one file per run)."""

from .reader import RunReader, list_runs, run_file
from .schema import CATEGORIES, RUN_FILE, SCHEMA_VERSION, RunFileError, safe_name
from .writer import RunWriter
