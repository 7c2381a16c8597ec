"""Benchmark of `luke pretrain` (issue 5) on CPU.

1. Step time (forward + backward) of the LUKE model against the floor measured in the same
   run: a transformers RoBERTa encoder of the same size over the words plus as many extra
   positions as the entities take, with the MLM head applied to the masked positions only
   (as LUKE does). Goal: LUKE within 1.1x of the floor. For scale, the same encoder with the
   full-vocabulary head at every position, and LUKE's step with its AdamW update.
2. Training samples/s of the whole `luke pretrain` (loader, DeepSpeed over gloo, logs) with
   1 and 2 processes under torchrun, on a synthetic dataset of the same shape.

    .venv/bin/python bench/bench_pretrain.py [--hidden 256 --layers 4 --seq 128 --entities 16
        --batch 8 --entity-vocab 50000 --iterations 10 --processes 1,2]

Shapes (defaults): words L = seq, entities E, 15% of the words and entities masked (the
reference's rates), word vocabulary 50,265 (roberta-base), entity table entity-vocab x 256.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from luke_core.model import MODEL_INPUTS, LukeForPretraining, LukeModelConfig  # noqa: E402
from luke_testing.tiny_model import tiny_roberta_config  # noqa: E402

WORD_VOCAB = 50265
MASK_RATE = 0.15


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--entities", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--entity-vocab", type=int, default=50_000)
    parser.add_argument("--entity-emb-size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--processes", default="1,2", help="torchrun runs; '' skips them")
    parser.add_argument("--train-steps", type=int, default=40, help="steps per torchrun run")
    return parser.parse_args(argv)


def base_config(args):
    return tiny_roberta_config(
        vocab_size=WORD_VOCAB,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=max(1, args.hidden // 64),
        intermediate_size=4 * args.hidden,
        max_seq_length=args.seq + args.entities,  # the floor's longer sequences fit too
    )


def synthetic_batch(args, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A full batch: every sequence of `seq` words and `entities` mentions of 1-3 tokens."""
    b, length, e = args.batch, args.seq, args.entities
    word_ids = torch.randint(3, WORD_VOCAB, (b, length), generator=generator)
    word_ids[:, 0], word_ids[:, -1] = 0, 2
    entity_ids = torch.randint(3, args.entity_vocab, (b, e), generator=generator)
    starts = torch.randint(1, length - 4, (b, e), generator=generator)
    spans = torch.randint(1, 4, (b, e), generator=generator)
    offsets = torch.arange(30)
    positions = starts[..., None] + offsets
    positions = torch.where(offsets < spans[..., None], positions, torch.full_like(positions, -1))
    lm_labels = torch.where(torch.rand((b, length), generator=generator) < MASK_RATE, word_ids, -1)
    entity_labels = torch.where(torch.rand((b, e), generator=generator) < MASK_RATE, entity_ids, -1)
    return {
        "word_ids": word_ids,
        "word_segment_ids": torch.zeros_like(word_ids),
        "word_attention_mask": torch.ones_like(word_ids),
        "entity_ids": entity_ids,
        "entity_position_ids": positions,
        "entity_segment_ids": torch.zeros_like(entity_ids),
        "entity_attention_mask": torch.ones_like(entity_ids),
        "masked_lm_labels": lm_labels,
        "masked_entity_labels": entity_labels,
    }


def luke_model(args, base_dir: str) -> LukeForPretraining:
    from luke_core.model.base import load_base_config

    config = LukeModelConfig(
        bert_model_name=base_dir,
        base_config=load_base_config(base_dir).to_dict(),
        entity_vocab_size=args.entity_vocab,
        entity_emb_size=args.entity_emb_size,
    )
    return LukeForPretraining.from_base(config).train()


def luke_step(model, batch) -> torch.Tensor:
    return model(**{k: batch[k] for k in MODEL_INPUTS}).loss


def floor_inputs(batch, args) -> dict[str, torch.Tensor]:
    """The same batch as one RoBERTa sequence of L + E tokens; labels at the same places."""
    filler = torch.randint(3, WORD_VOCAB, batch["entity_ids"].shape)
    return {
        "input_ids": torch.cat([batch["word_ids"], filler], dim=1),
        "attention_mask": torch.ones(args.batch, args.seq + args.entities, dtype=torch.long),
        "labels": torch.cat([batch["masked_lm_labels"], torch.full_like(filler, -1)], dim=1),
    }


def floor_step(model, inputs, *, masked_only: bool = True) -> torch.Tensor:
    """RoBERTa encoder + MLM head (masked positions only, or everywhere) + cross-entropy."""
    hidden = model.roberta(
        input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
    ).last_hidden_state
    labels = inputs["labels"]
    if masked_only:
        targets = labels != -1
        return F.cross_entropy(model.lm_head(hidden[targets]), labels[targets])
    logits = model.lm_head(hidden)
    return F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1), ignore_index=-1)


def time_steps(step, iterations: int, optimizer=None, warm_up: int = 3) -> list[float]:
    """Seconds of each forward + backward (+ optimizer step), after `warm_up` steps."""
    times = []
    for i in range(iterations + warm_up):
        started = time.perf_counter()
        loss = step()
        loss.backward()
        if optimizer is not None:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        elapsed = time.perf_counter() - started
        if i >= warm_up:
            times.append(elapsed)
    return times


def zero_grads(model):
    for p in model.parameters():
        p.grad = None


def compare_with_floor(args, base_dir: str) -> dict:
    from transformers import AutoModelForMaskedLM

    torch.manual_seed(0)
    batch = synthetic_batch(args, torch.Generator().manual_seed(0))
    luke = luke_model(args, base_dir)
    floor = AutoModelForMaskedLM.from_pretrained(base_dir).train()
    inputs = floor_inputs(batch, args)

    def luke_only():
        zero_grads(luke)
        return luke_step(luke, batch)

    def floor_masked():
        zero_grads(floor)
        return floor_step(floor, inputs)

    def floor_full():
        zero_grads(floor)
        return floor_step(floor, inputs, masked_only=False)

    # one step of each in turn, so that the load of a shared machine hits both alike; the
    # minimum is the figure least disturbed by it (the median is reported too)
    steps = {"luke": luke_only, "floor": floor_masked, "floor_full_head": floor_full}
    times = {name: [] for name in steps}
    for i in range(3 * args.iterations):
        for name, step in steps.items():
            if name != "floor_full_head" or i % 3 == 0:
                times[name] += time_steps(step, 1, warm_up=3 if i == 0 else 0)
    result = {name: min(values) for name, values in times.items()}
    result.update({f"{name}_median": statistics.median(v) for name, v in times.items()})
    adam = torch.optim.AdamW(luke.parameters(), lr=1e-4, fused=True)
    result["luke_with_adamw"] = min(
        time_steps(lambda: luke_step(luke, batch), args.iterations, adam)
    )
    result["ratio_luke_to_floor"] = result["luke"] / result["floor"]
    result["ratio_luke_to_floor_medians"] = result["luke_median"] / result["floor_median"]
    result["ratio_full_head_to_floor"] = result["floor_full_head"] / result["floor"]
    result["masked_words"] = int((batch["masked_lm_labels"] != -1).sum())
    result["masked_entities"] = int((batch["masked_entity_labels"] != -1).sum())
    return result


def torchrun_throughput(args, base_dir: str, tokenizer_dir: str, processes: int, root: str):
    """samples/s of `luke pretrain` between its first and last logged steps."""
    from luke_core.launch import TrainingJobSpec, torchrun_command

    config = {
        "train_micro_batch_size_per_gpu": args.batch,
        "gradient_accumulation_steps": 1,
        "optimizer": {"type": "AdamW", "params": {"lr": 1e-4, "torch_adam": True, "fused": True}},
        "scheduler": {
            "type": "WarmupDecayLR",
            "params": {"warmup_num_steps": 10, "warmup_max_lr": 1e-4, "warmup_type": "linear"},
        },
        "steps_per_print": 1_000_000,
    }
    config_path = os.path.join(root, "bench-config.json")
    Path(config_path).write_text(json.dumps(config))
    out = os.path.join(root, f"run-{processes}")
    spec = TrainingJobSpec(
        name="bench",
        procs_per_node=processes,
        pretrain_args=(
            "--dataset-dir",
            os.path.join(root, "dataset"),
            "--output-dir",
            out,
            "--deepspeed-config-file",
            config_path,
            "--bert-model-name",
            base_dir,
            "--num-epochs",
            "1",
            "--log-interval-steps",
            "5",
            "--save-interval-steps",
            "0",
            "--num-workers",
            "1",
            "--no-progress",
            "--entity-emb-size",
            str(args.entity_emb_size),
        ),
    )
    env = {**os.environ, "LUKE_CHECKPOINT_STAGING": os.path.join(root, "staging")}
    command = torchrun_command(spec, python=sys.executable, standalone=True)
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-3000:])
    lines = [json.loads(x) for x in Path(out, "metrics.jsonl").read_text().splitlines()]
    first, last = lines[0], lines[-1]  # the first interval holds the start-up
    rate = (last["samples"] - first["samples"]) / (last["time"] - first["time"])
    return {"processes": processes, "samples_per_second": rate, "steps": last["step"]}


def prepare_run_inputs(args, root: str) -> tuple[str, str]:
    """A tiny tokenizer, a base model of the benchmark's size over it, and a dataset."""
    from luke_testing.pretraining_data import save_tiny_tokenizer
    from luke_testing.tiny_model import save_tiny_base_model, write_synthetic_dataset

    tokenizer_dir = os.path.join(root, "tokenizer")
    save_tiny_tokenizer(tokenizer_dir)
    base_dir = os.path.join(root, "base")
    cfg = base_config(args)
    save_tiny_base_model(
        base_dir,
        tokenizer_dir=tokenizer_dir,
        vocab_size=WORD_VOCAB,  # words of the tiny tokenizer, the MLM head's full width
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        intermediate_size=cfg.intermediate_size,
        max_seq_length=args.seq + args.entities,
    )
    largest = max(int(p) for p in args.processes.split(",") if p) if args.processes else 1
    items = args.train_steps * args.batch * largest
    write_synthetic_dataset(
        os.path.join(root, "dataset"),
        tokenizer_dir,
        count=items,
        max_seq_length=args.seq,
        max_entity_length=args.entities,
        entity_vocab_size=args.entity_vocab,
        items_per_shard=max(64, items // 4),
        instance_options={
            "min_words": args.seq - 10,
            "max_words": args.seq - 2,
            "max_entities": args.entities,
            "entity_vocab_size": args.entity_vocab,
        },
    )
    return base_dir, tokenizer_dir


def main(argv=None) -> None:
    args = parse_args(argv)
    report = {"shape": vars(args), "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory(prefix="bench-pretrain-") as root:
        base_dir, tokenizer_dir = prepare_run_inputs(args, root)
        report["step"] = compare_with_floor(args, base_dir)
        step = report["step"]
        print(
            f"step (forward + backward), batch {args.batch} x ({args.seq} words + "
            f"{args.entities} entities), hidden {args.hidden}, {args.layers} layers:\n"
            f"  LUKE                    {step['luke'] * 1000:8.1f} ms\n"
            f"  floor (RoBERTa, L + E)  {step['floor'] * 1000:8.1f} ms   "
            f"LUKE / floor = {step['ratio_luke_to_floor']:.3f} (goal <= 1.1)\n"
            f"  floor, full MLM head    {step['floor_full_head'] * 1000:8.1f} ms   "
            f"({step['ratio_full_head_to_floor']:.2f}x the floor)\n"
            f"  LUKE + AdamW step       {step['luke_with_adamw'] * 1000:8.1f} ms\n"
            f"  (minima of {3 * args.iterations} steps taken in turn; ratio of the medians "
            f"{step['ratio_luke_to_floor_medians']:.3f})",
            flush=True,
        )
        runs = [int(p) for p in args.processes.split(",") if p]
        report["torchrun"] = [
            torchrun_throughput(args, base_dir, tokenizer_dir, n, root) for n in runs
        ]
        for run in report["torchrun"]:
            print(
                f"  luke pretrain, {run['processes']} process(es): "
                f"{run['samples_per_second']:.1f} samples/s over {run['steps']} steps"
            )
    print(json.dumps(report, indent=2))
    assert math.isfinite(report["step"]["ratio_luke_to_floor"])


if __name__ == "__main__":
    main()
