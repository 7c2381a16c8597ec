"""Benchmark of the vocabulary step: links/s of `build-entity-vocab` and items/s of
`build-interwiki-db` with 1 and 2 processes, and the peak memory of each run.

    .venv/bin/python bench/bench_entity_vocab.py [--pages 50000] [--links 50] [--items 100000]
        [--processes 1 2 4 8]

Inputs are generated once into --workdir (kept between runs): a dump database of
--pages articles with --links links each, targets drawn from a Zipf-like law (10% via
redirects, 10% red links), and a Wikidata dump of --items entities with realistic
sitelinks (most items few, some ~100) and labels/claims bulk (~8 KB lines on average;
the real dump's average is ~10-13 KB, so real items/s will be lower in proportion).

The machine may be shared: CPU seconds (all processes of the run) show the work done
whatever the load; wall-clock rates show the speed-up only on an idle machine.

Each measured build runs in a fresh process so that its peak resident memory
(the main process's VmHWM, and the largest worker's getrusage maxrss) is its own.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

from luke_core.entity_vocab.build import BuildEntityVocabOptions, build_entity_vocab
from luke_core.entity_vocab.interwiki import BuildInterwikiDbOptions, build_interwiki_db
from luke_core.entity_vocab.wikidata import WikidataDumpReader
from luke_testing.entity_data import random_wikidata_entity, write_zipf_dump_db


def prepare_dump_db(workdir: str, pages: int, links: int) -> str:
    path = os.path.join(workdir, f"zipf-{pages}x{links}.db")
    if not os.path.exists(path):
        started = time.perf_counter()
        write_zipf_dump_db(path + ".tmp", pages, links)
        os.replace(path + ".tmp", path)
        print(f"generated {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def prepare_wikidata(workdir: str, items: int) -> str:
    path = os.path.join(workdir, f"wikidata-{items}.json")
    if not os.path.exists(path):
        started = time.perf_counter()
        rng = random.Random(0)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write("[\n")
            for number in range(items):
                entity = json.dumps(random_wikidata_entity(rng, number), ensure_ascii=False)
                f.write(entity + (",\n" if number < items - 1 else "\n"))
            f.write("]\n")
        os.replace(path + ".tmp", path)
        print(f"generated {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def reading_rates(workdir: str, wikidata: str, prefix_bytes: int = 60 << 20) -> dict:
    """MB/s of uncompressed lines the main process reads from a plain, gzip and bz2 copy
    of the dump's first `prefix_bytes`: decompression is single-threaded, so for the
    real dump it bounds items/s whatever the number of parsing processes."""
    rates = {}
    with open(wikidata, "rb") as f:
        data = f.read(prefix_bytes)
    data = data[: data.rfind(b"\n") + 1]
    for name, compress in (("plain", None), ("gzip", gzip.compress), ("bz2", bz2.compress)):
        path = os.path.join(workdir, f"prefix-{len(data)}.{name}")
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(compress(data) if compress else data)
        started = time.perf_counter()
        with WikidataDumpReader(path) as reader:
            for _ in reader.batches():
                pass
        rates[name] = len(data) / 1e6 / (time.perf_counter() - started)
    return rates


def child(step: str, source: str, processes: int) -> dict:
    """Run one build in this process; report its summary and peak memory."""
    with tempfile.TemporaryDirectory() as scratch:
        if step == "vocab":
            out = os.path.join(scratch, "vocab.jsonl")
            options = BuildEntityVocabOptions(processes=processes, progress=False)
            summary = build_entity_vocab(source, out, options)
            rate, unit = summary.links_per_second, "links/s"
        else:
            out = os.path.join(scratch, "interwiki.db")
            options = BuildInterwikiDbOptions(processes=processes, progress=False)
            summary = build_interwiki_db(source, out, options)
            rate, unit = summary.items_per_second, "items/s"
        output_mb = os.path.getsize(out) / 1e6
    times = os.times()
    return {
        "cpu_seconds": times.user + times.system + times.children_user + times.children_system,
        "step": step,
        "processes": processes,
        "seconds": summary.seconds,
        "rate": rate,
        "unit": unit,
        "output_mb": output_mb,
        "main_rss_mb": own_peak_rss_mb(),
        "worker_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def own_peak_rss_mb() -> float:
    """This process's peak RSS. Not getrusage(RUSAGE_SELF): Linux carries the parent's
    peak across fork+exec into it, so a child started by a big parent would report the
    parent's figure; VmHWM belongs to this process's own address space."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(step: str, source: str, processes: int) -> dict:
    command = [sys.executable, __file__, "--child", step, "--source", source]
    done = subprocess.run(
        [*command, "--processes", str(processes)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=50_000)
    parser.add_argument("--links", type=int, default=50)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "luke-bench"))
    parser.add_argument("--child", choices=["vocab", "interwiki"], help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument(
        "--processes", type=int, nargs="+", default=[1, 2], help="process counts to measure"
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.source, args.processes[0])))
        return
    os.makedirs(args.workdir, exist_ok=True)
    dump_db = prepare_dump_db(args.workdir, args.pages, args.links)
    wikidata = prepare_wikidata(args.workdir, args.items)
    size_mb = os.path.getsize(wikidata) / 1e6
    print(f"dump database: {args.pages:,} pages x {args.links} links")
    print(f"wikidata dump: {args.items:,} entities, {size_mb:,.0f} MB uncompressed")
    print(f"machine: {os.cpu_count()} cores\n")
    print(
        "| step | processes | seconds | CPU seconds | rate | peak RSS main | peak RSS worker "
        "| output |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rates = reading_rates(args.workdir, wikidata)
    for name, rate in rates.items():
        print(
            f"| read Wikidata lines, {name} | 1 (main) | | | {rate:,.0f} MB/s | | | |", flush=True
        )
    for step, source in (("vocab", dump_db), ("interwiki", wikidata)):
        for processes in args.processes:
            r = measure(step, source, processes)
            print(
                f"| build-{'entity-vocab' if step == 'vocab' else 'interwiki-db'} "
                f"| {processes} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} "
                f"| {r['rate']:,.0f} {r['unit']} "
                f"| {r['main_rss_mb']:,.0f} MB | {r['worker_rss_mb']:,.0f} MB "
                f"| {r['output_mb']:,.1f} MB |",
                flush=True,
            )


if __name__ == "__main__":
    main()
