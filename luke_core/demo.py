"""The main job on one machine: build the dump database of a real Wikipedia sample and
print its summary (the full local pipeline replaces this once it exists)."""

from __future__ import annotations

import argparse
import json
import os

from luke_core.cli import configure_logging
from luke_core.dump_db import BuildDumpDbOptions, DumpDB, build_dump_db
from luke_core.errors import LukeError
from luke_core.progress import summary_dict
from luke_core.samples import sample_dump


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="runs/demo", help="output folder (or s3:// prefix)")
    args = parser.parse_args(argv)
    configure_logging()
    try:
        dump = str(sample_dump())
        out = os.path.join(args.out, "dump.db") if "://" not in args.out else f"{args.out}/dump.db"
        summary = build_dump_db(dump, out, BuildDumpDbOptions())
        with DumpDB(out) as db:
            example = next(db.iter_pages())
        print(
            json.dumps(
                {
                    "dump": dump,
                    "database": out,
                    "summary": summary_dict(summary),
                    "first_page": example.title,
                    "first_paragraph": example.paragraphs[0].text[:200],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    except LukeError as exc:
        print(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
