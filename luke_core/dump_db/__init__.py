"""Step 1: a Wikipedia dump becomes an embedded database (`luke build-dump-db`)."""

from luke_core.dump_db.build import BuildDumpDbOptions, BuildDumpDbSummary, build_dump_db
from luke_core.dump_db.database import DumpDB, Page
from luke_core.dump_db.merge import MergeDumpDbOptions, MergeDumpDbSummary, merge_dump_dbs
from luke_core.dump_db.wikitext import Link, Paragraph

__all__ = [
    "BuildDumpDbOptions",
    "BuildDumpDbSummary",
    "DumpDB",
    "Link",
    "MergeDumpDbOptions",
    "MergeDumpDbSummary",
    "Page",
    "Paragraph",
    "build_dump_db",
    "merge_dump_dbs",
]
