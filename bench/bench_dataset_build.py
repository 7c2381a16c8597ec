"""Benchmark of `luke build-wikipedia-pretraining-dataset` (issue 4): word tokens/s of the
builder with 1 and 2 processes, next to the fast tokenizer alone on the same paragraphs in
the same run (one thread, TOKENIZERS_PARALLELISM=false, one batch call).

    LUKE_TEST_DATA=../shared/data .venv/bin/python bench/bench_dataset_build.py \\
        [--copies 4] [--repeat 3] [--splitter opennlp --splitter en]

Input: the real enwiki fragment (106 articles, about 590,000 tokens), its pages repeated
`--copies` times in the dump database so that a run lasts long enough for process start-up
(a JVM per worker with OpenNLP) not to dominate; the vocabulary holds every link target and
page title, as a real 500K vocabulary covers most links. Tokenizer: roberta-base
($LUKE_TEST_DATA) or --tokenizer. Goals: builder >= half the tokenizer-alone rate per
process; 2 processes close to 2x one. Rates are over the processing time (reading pages to
writing shards); the whole build's time, loading the inputs included, is shown too.
Figures are the best of --repeat runs (the least disturbed by other load on the machine,
whose load average is printed before and after).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # before tokenizers is imported

import argparse
import tempfile
import time

from luke_core.dataset.tokenizers import load_tokenizer
from luke_core.dump_db import BuildDumpDbOptions, DumpDB, build_dump_db
from luke_core.dump_db.database import DumpDBWriter, encode_paragraphs, new_build_meta
from luke_core.samples import sample_dump
from luke_testing.dataset_inputs import link_count_vocab


def repeated_dump_db(source: str, out: str, copies: int) -> None:
    """The source's pages `copies` times (titles suffixed), its redirects once."""
    writer = DumpDBWriter(out)
    with DumpDB(source) as db:
        for copy in range(copies):
            for page in db.iter_pages():
                title = page.title if copy == 0 else f"{page.title} (copy {copy})"
                links = sum(len(p.links) for p in page.paragraphs)
                writer.add_page(
                    title,
                    page.id,
                    page.is_disambiguation,
                    encode_paragraphs(page.paragraphs),
                    links,
                )
        for title, target in db.iter_redirects():
            if target is not None:
                writer.add_redirect(title, target)
        language = db.language
        namespaces = db.meta.get("namespaces")
    writer.resolve_redirects()
    writer.finish({**new_build_meta(), "language": language, "namespaces": namespaces})


def tokenizer_alone(tokenizer_name: str, db_path: str, repeat: int) -> tuple[int, float]:
    """Tokens and best seconds of one batch call over every paragraph of one copy."""
    tokenizer = load_tokenizer(tokenizer_name)
    with DumpDB(db_path) as db:
        paragraphs = [p.text for page in db.iter_pages() for p in page.paragraphs]
    times, tokens = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        ids = tokenizer(paragraphs, add_special_tokens=False)["input_ids"]
        times.append(time.perf_counter() - start)
        tokens = sum(map(len, ids))
    return tokens, min(times)


def builder(args, db: str, vocab: str, splitter: str, processes: int, scratch: str):
    """Best (tokens/s over processing, whole-build seconds, tokens) of --repeat builds, each
    a `luke` command of its own, as a user runs it (a JVM left in this process by an OpenNLP
    build would make later builds start their workers by spawn)."""
    rates, totals, tokens = [], [], 0
    for i in range(args.repeat):
        out = os.path.join(scratch, f"out-{splitter}-{processes}-{i}")
        command = [
            sys.executable, "-m", "luke_core", "--log-level", "WARNING",
            "build-wikipedia-pretraining-dataset", db, args.tokenizer, vocab, out,
            "--sentence-splitter", splitter, "--opennlp-model", args.opennlp_model,
            "-j", str(processes), "--no-progress",
        ]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        totals.append(time.perf_counter() - start)
        summary = json.loads(done.stdout)
        rates.append(summary["tokens_per_second"])
        tokens = summary["tokens"]
    return max(rates), min(totals), tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    shared = os.environ.get("LUKE_TEST_DATA", "")
    parser.add_argument("--tokenizer", default=os.path.join(shared, "tokenizers/roberta-base"))
    parser.add_argument("--opennlp-model", default=os.path.join(shared, "opennlp/en-sent.bin"))
    parser.add_argument("--splitter", action="append", help="opennlp and/or ICU locales")
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    splitters = args.splitter or ["opennlp", "en"]

    scratch = tempfile.mkdtemp(prefix="bench-dataset-")
    one_copy = os.path.join(scratch, "enwiki.db")
    build_dump_db(str(sample_dump()), one_copy, BuildDumpDbOptions(progress=False))
    db = os.path.join(scratch, f"enwiki-x{args.copies}.db")
    repeated_dump_db(one_copy, db, args.copies)
    vocab = link_count_vocab(db, os.path.join(scratch, "vocab.jsonl"), include_pages=True)

    alone_tokens, alone_seconds = tokenizer_alone(args.tokenizer, one_copy, args.repeat)
    alone = alone_tokens / alone_seconds
    print(
        f"input: enwiki fragment x{args.copies}, tokenizer {args.tokenizer}, cpus {os.cpu_count()}"
    )
    print(f"{'fast tokenizer alone, 1 batch call':44s} {alone:>10,.0f} tokens/s")
    for splitter in splitters:
        one = None
        for processes in (1, 2):
            rate, total, tokens = builder(args, db, vocab, splitter, processes, scratch)
            one = one or rate
            print(
                f"{f'builder {splitter}, {processes} process(es)':44s} {rate:>10,.0f} tokens/s"
                f"  ({rate / alone / processes:.2f} of alone per process,"
                f" {rate / one:.2f}x one process; whole build {total:.1f} s, {tokens:,} tokens)"
            )
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
