"""Benchmark of the pretraining loader (issue 4: batches/s from local disk and from
SeaweedFS, which must exceed what a training step consumes by 10x).

    LUKE_TEST_DATA=../shared/data .venv/bin/python bench/bench_loader.py [--items 8192]

A synthetic dataset of 510-word sequences (512 tokens with CLS and SEP) with 0-60 mentions
each, in shards of --items-per-shard, tokenizer roberta-base from LUKE_TEST_DATA (whole-word
masking over the real vocabulary; a tiny trained tokenizer otherwise). Batches of 32 with
the default masking, 0 and 2 DataLoader workers, read:
- local: from a local directory;
- s3 cold: from SeaweedFS with an empty shard cache (every shard downloaded and verified);
- s3 warm: from SeaweedFS again, shards already in the cache.
Each figure is one full epoch, timed from the start of iteration (workers included).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from luke_core.dataset.loading.loader import PretrainingLoader
from luke_testing.pretraining_data import (
    save_tiny_tokenizer,
    synthetic_instances,
    write_dataset,
)
from luke_testing.seaweedfs import start_seaweedfs


def tokenizer_dir(scratch: str) -> str:
    from transformers import AutoTokenizer

    out = os.path.join(scratch, "tokenizer")
    root = os.environ.get("LUKE_TEST_DATA")
    if root:
        AutoTokenizer.from_pretrained(
            os.path.join(root, "tokenizers", "roberta-base")
        ).save_pretrained(out)
    else:
        save_tiny_tokenizer(out)
    return out


def write_bench_dataset(uri: str, tokenizer: str, items: int, per_shard: int) -> None:
    from transformers import AutoTokenizer

    vocab = AutoTokenizer.from_pretrained(tokenizer)
    pool = [i for i in range(len(vocab)) if i not in set(vocab.all_special_ids)]
    instances = synthetic_instances(
        items,
        word_ids=pool,
        rng=np.random.default_rng(0),
        min_words=510,
        max_words=510,
        max_entities=60,
        entity_vocab_size=500_000,
    )
    write_dataset(
        uri,
        instances,
        tokenizer_dir=tokenizer,
        items_per_shard=per_shard,
        entity_vocab_size=500_000,
        tokenizer_name="roberta-base",
    )


def time_epoch(uri: str, workers: int, batch_size: int, cache: str) -> dict:
    loader = PretrainingLoader([uri], batch_size=batch_size, num_workers=workers, cache_dir=cache)
    start = time.perf_counter()
    batches = tokens = 0
    for batch in loader:
        batches += 1
        tokens += int(batch["word_attention_mask"].sum())
    seconds = time.perf_counter() - start
    return {
        "batches": batches,
        "seconds": round(seconds, 2),
        "batches_per_s": round(batches / seconds, 1),
        "tokens_per_s": round(tokens / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=8192)
    parser.add_argument("--items-per-shard", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-loader-") as scratch:
        tokenizer = tokenizer_dir(scratch)
        local = os.path.join(scratch, "dataset")
        write_bench_dataset(local, tokenizer, args.items, args.items_per_shard)
        size_mb = (
            sum(
                os.path.getsize(os.path.join(local, f))
                for f in os.listdir(local)
                if f.endswith(".arrow")
            )
            / 1e6
        )
        server = start_seaweedfs(os.path.join(scratch, "seaweedfs"))
        try:
            os.environ.update(server.env)
            remote = f"s3://{server.create_bucket('bench')}/dataset"
            write_bench_dataset(remote, tokenizer, args.items, args.items_per_shard)
            for workers in (0, 2):
                cache = os.path.join(scratch, f"cache-{workers}")
                for source, uri in (("local", local), ("s3 cold", remote), ("s3 warm", remote)):
                    figures = time_epoch(uri, workers, args.batch_size, cache)
                    results.append({"source": source, "workers": workers, **figures})
                    print(json.dumps(results[-1]), flush=True)
        finally:
            server.stop()
    print(
        f"\ndataset: {args.items} sequences of 512 tokens, {size_mb:.1f} MB in shards of "
        f"{args.items_per_shard}; batch {args.batch_size}"
    )
    print(f"{'source':<10}{'workers':>8}{'batches/s':>12}{'tokens/s':>12}")
    for r in results:
        print(f"{r['source']:<10}{r['workers']:>8}{r['batches_per_s']:>12}{r['tokens_per_s']:>12}")


if __name__ == "__main__":
    main()
