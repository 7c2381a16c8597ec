"""Benchmark of `luke build-dump-db` (issue: articles/s and MB/s with 1 and 2 processes,
next to the time of its parts and to wikipedia2vec's build-dump-db, in one run).

    .venv/bin/python bench/bench_dump_db.py [DUMP] [--wikipedia2vec /path/to/venv/bin/wikipedia2vec]

DUMP defaults to the real enwiki fragment (LUKE_TEST_DATA or the gensim wheel sample).
wikipedia2vec must live in a scratch environment (`python -m venv /tmp/w2v &&
/tmp/w2v/bin/pip install wikipedia2vec==2.0.0`); it is not a dependency of the project.
Each figure is the median of --repeat runs.
"""

from __future__ import annotations

import argparse
import bz2
import os
import statistics
import subprocess
import sys
import tempfile
import time

import mwparserfromhell

from luke_core.dump_db import BuildDumpDbOptions, build_dump_db
from luke_core.dump_db.reader import DumpReader
from luke_core.samples import sample_dump


def timed(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def decompress(dump: str) -> None:
    with bz2.open(dump) as f:
        while f.read(1 << 20):
            pass


def parse_xml(xml_path: str) -> list[str]:
    with DumpReader(xml_path) as reader:
        return [p.text for p in reader.pages() if p.namespace == 0 and p.redirect is None]


def parse_articles(texts: list[str]) -> None:
    for text in texts:
        mwparserfromhell.parse(text)


def run_ours(dump: str, out: str, processes: int) -> None:
    build_dump_db(dump, out, BuildDumpDbOptions(processes=processes, progress=False))


def run_command(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dump", nargs="?", default=None)
    parser.add_argument("--wikipedia2vec", default="/tmp/w2v/bin/wikipedia2vec")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    dump = args.dump or str(sample_dump())
    scratch = tempfile.mkdtemp(prefix="bench-dump-db-")
    xml_path = os.path.join(scratch, "dump.xml")
    with bz2.open(dump) as src, open(xml_path, "wb") as dst:
        dst.write(src.read())
    xml_mb = os.path.getsize(xml_path) / 1e6
    texts = parse_xml(xml_path)
    articles = len(texts)
    out = os.path.join(scratch, "out.db")

    rows: list[tuple[str, float]] = []
    rows.append(("bz2 decompression alone", timed(lambda: decompress(dump), args.repeat)))
    rows.append(("XML parsing alone (expat, our reader)",
                 timed(lambda: parse_xml(xml_path), args.repeat)))  # fmt: skip
    rows.append(("mwparserfromhell.parse of the articles alone",
                 timed(lambda: parse_articles(texts), args.repeat)))  # fmt: skip
    parts = sum(seconds for _, seconds in rows)
    rows.append(("sum of the parts", parts))
    ours = {}
    for processes in (1, 2):
        ours[processes] = timed(lambda p=processes: run_ours(dump, out, p), args.repeat)
        rows.append((f"ours, {processes} process(es), in-process call", ours[processes]))
    cli = {}
    for processes in (1, 2):
        command = [sys.executable, "-m", "luke_core", "build-dump-db", dump, out,
                   "-j", str(processes), "--no-progress"]  # fmt: skip
        cli[processes] = timed(lambda c=command: run_command(c), args.repeat)
        rows.append((f"ours, {processes} process(es), `luke` command", cli[processes]))
    peer = {}
    if os.path.exists(args.wikipedia2vec):
        for processes in (1, 2):
            command = [args.wikipedia2vec, "build-dump-db", dump, os.path.join(scratch, "w2v.db"),
                       "--pool-size", str(processes)]  # fmt: skip
            peer[processes] = timed(lambda c=command: run_command(c), args.repeat)
            rows.append((f"wikipedia2vec 2.0.0, --pool-size {processes}", peer[processes]))

    print(f"dump: {os.path.basename(dump)}: {articles} articles, {xml_mb:.1f} MB of XML, "
          f"median of {args.repeat} runs\n")  # fmt: skip
    print("| what | seconds | articles/s | MB/s |\n|---|---:|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {articles / seconds:.1f} | {xml_mb / seconds:.2f} |")
    print()
    print(f"- ours 1 process / sum of parts: {ours[1] / parts:.3f} (goal <= 1.15)")
    print(f"- ours 2 processes speed-up over 1: {ours[1] / ours[2]:.2f}x (goal >= 1.8)")
    print(f"- `luke` command 2 processes speed-up over 1: {cli[1] / cli[2]:.2f}x")
    if peer:
        print(f"- wikipedia2vec 1 process / ours 1 process (commands): {peer[1] / cli[1]:.2f}x")
        print(f"- wikipedia2vec speed-up 2 over 1: {peer[1] / peer[2]:.2f}x")


if __name__ == "__main__":
    main()
