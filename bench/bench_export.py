"""Benchmark of `luke convert-to-huggingface` (issue 6): seconds and peak memory to export a
checkpoint of luke-base's shape (RoBERTa-base: 12 layers, hidden 768, 50,265 words; 500,000
entities x 256), and the parity of the exported LukeForMaskedLM with the checkpoint's model.

    LUKE_TEST_DATA=../shared/data .venv/bin/python bench/bench_export.py \\
        [--entities 500000] [--layers 12] [--keep DIR]

The checkpoint is written directly (random weights, DeepSpeed's file layout, with an empty
optimizer state) by `luke_testing.pretraining_run`; the export runs as the command does,
in a process of its own, whose peak resident memory is reported (the checkpoint file is
memory-mapped: its pages count once read). Tokenizer: roberta-base ($LUKE_TEST_DATA).
Goal: well under the training step's scale (minutes), peak memory about 2-3x the model's
fp32 size (the checkpoint's tables, the extended copies, the writer's buffers).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import torch

from luke_testing.dataset_inputs import roberta_dir
from luke_testing.export_checks import hf_outputs, load_masked_lm, make_batch, our_logits
from luke_testing.pretraining_run import (
    entity_vocab_of,
    random_model,
    tiny_model_config,
    write_pretraining_run,
)


def build_run(folder: str, entities: int, layers: int):
    config = tiny_model_config(
        vocab_size=50265,
        hidden_size=768,
        num_hidden_layers=layers,
        num_attention_heads=12,
        entity_vocab_size=entities,
        entity_emb_size=256,
        max_seq_length=512,
        bert_model_name="roberta-base-shaped",
    )
    model = random_model(config, std=0.02)
    started = time.perf_counter()
    write_pretraining_run(
        folder, model, entity_vocab=entity_vocab_of(entities), tokenizer_dir=roberta_dir(),
        max_seq_length=512,
    )  # fmt: skip
    print(f"checkpoint written in {time.perf_counter() - started:.1f} s")
    return model


def run_export(run: str, out: str) -> tuple[float, float, dict]:
    command = [sys.executable, "-m", "luke_core", "--log-level", "WARNING",
               "convert-to-huggingface", run, out, "--no-progress"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr[-4000:])
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    return seconds, peak_gib, json.loads(done.stdout)


def parity(model, out: str, vocab: int, entities: int) -> tuple[float, float]:
    exported = load_masked_lm(out, use_entity_aware_attention=False)
    batch = make_batch(vocab, entities, seed=0)
    words, entity_logits = our_logits(model, batch)
    got = hf_outputs(exported, batch)
    real = batch["word_attention_mask"].bool()
    word_diff = (got.logits[..., :vocab] - words)[real].abs().max().item()
    real = batch["entity_attention_mask"].bool()
    entity_diff = (got.entity_logits[..., :entities] - entity_logits)[real].abs().max().item()
    return word_diff, entity_diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=500_000)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--keep", help="Work in this folder and keep it (default: a temp dir).")
    args = parser.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="bench-export-")
    print(f"load average {os.getloadavg()[0]:.2f}; working in {root}")
    torch.manual_seed(0)
    model = build_run(os.path.join(root, "run"), args.entities, args.layers)
    size_gib = sum(p.numel() for p in model.parameters()) * 4 / 2**30
    checkpoint = os.path.join(root, "run", "epoch1", "mp_rank_00_model_states.pt")
    file_gib = os.path.getsize(checkpoint) / 2**30
    print(f"model {size_gib:.2f} GiB fp32; checkpoint file {file_gib:.2f} GiB")
    out = os.path.join(root, "hf")
    seconds, peak_gib, summary = run_export(os.path.join(root, "run"), out)
    print(
        f"export: {seconds:.1f} s (command, start-up included), peak RSS {peak_gib:.2f} GiB "
        f"({peak_gib / size_gib:.1f}x the model), {summary['bytes'] / 2**30:.2f} GiB written, "
        f"{summary['parameters']:,} parameters"
    )
    word_diff, entity_diff = parity(model, out, 50265, args.entities)
    print(f"parity (fp32, CPU): max |word logit diff| {word_diff:.2e}, entity {entity_diff:.2e}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
