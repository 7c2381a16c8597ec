"""The model card: its metadata parses as the Hub reads it, its numbers are the run's (the
metrics line of the checkpoint's step, not a later one), and its code runs as written."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil

import yaml

from luke_core.export.convert import ExportOptions, export_huggingface
from luke_testing.pretraining_run import write_checkpoint


def card_of(folder: str) -> str:
    return open(os.path.join(folder, "README.md"), encoding="utf-8").read()


def front_matter(card: str) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", card, re.DOTALL)
    assert match, card[:200]
    return yaml.safe_load(match.group(1))


def table_value(card: str, label: str) -> str:
    match = re.search(rf"^\| {re.escape(label)} \| (.*) \|$", card, re.MULTILINE)
    assert match, label
    return match.group(1)


def test_metadata_header(exported):
    metadata = front_matter(card_of(exported))
    assert metadata["library_name"] == "transformers"
    assert metadata["language"] == ["en"]
    assert "luke" in metadata["tags"] and metadata["datasets"] == ["wikipedia"]
    assert "license" not in metadata  # none chosen


def test_numbers_are_those_of_the_run(exported, luke_run):
    card = card_of(exported)
    # metrics.jsonl goes on to step 15; the checkpoint is step 10
    assert "metrics at step 10 " in card
    assert table_value(card, "masked word loss") == "4.5"
    assert table_value(card, "masked word accuracy") == "0.25"
    assert table_value(card, "masked entity loss") == "3.25"
    assert table_value(card, "masked entity accuracy") == "0.375"
    assert table_value(card, "optimizer steps") == "10 of 10"
    # 320 + <ent> <ent2> + [UNK] [PAD] [MASK] [MASK2], which transformers 5 adds as words
    words = table_value(card, "word vocabulary")
    assert words.startswith("326: the 320 words of pretraining") and "[MASK2]" in words
    assert table_value(card, "entity vocabulary").startswith("51 ")
    assert re.search(
        r"\| `[^`]*enwiki` \| en \| 64 \| 2,048 \| 300 \| `enwiki-20181220.db` \|", card
    )
    assert table_value(card, "trained") == "all weights"
    config = json.load(open(os.path.join(luke_run, "metadata.json")))["model_config"]
    assert f"`{config['bert_model_name']}` (roberta)" in table_value(card, "base model")


def test_sequence_limits_of_pretraining_and_of_the_tokenizer(exported, luke_run):
    """The run trained with 128 entities per sequence; the tokenizer pads and truncates to
    the published 32 entities and 30 tokens per mention."""
    trained = json.load(open(os.path.join(luke_run, "metadata.json")))
    assert trained["max_entity_length"] == 128
    limits = table_value(card_of(exported), "sequence limits")
    assert limits.startswith("pretraining: words 64, entities 128, tokens per mention 30;")
    assert "entities 32, tokens per mention 30" in limits
    config = json.load(open(os.path.join(exported, "tokenizer_config.json")))
    assert (config["max_entity_length"], config["max_mention_length"]) == (32, 30)


def test_the_lite_card_explains_its_entity_ids(luke_run, exported, tmp_path):
    out = str(tmp_path / "lite")
    export_huggingface(luke_run, out, ExportOptions(remove_entity_embeddings=True, progress=False))
    ours, studio_ousia = "`[PAD]` 0, `[UNK]` 1, `[MASK]` 2, `[MASK2]` 3", "`[MASK]` 0, `[UNK]` 1"
    assert ours in card_of(out) and studio_ousia in card_of(out)
    assert ours not in card_of(exported)


def test_the_code_runs_as_written(exported):
    """`exported` was made with its own path as the model name: the snippet loads it."""
    code = re.search(r"```python\n(.*?)```", card_of(exported), re.DOTALL).group(1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    predicted = eval(printed.getvalue())
    mapping = json.load(open(os.path.join(exported, "entity_vocab.json")))
    assert len(predicted) == 2 and all(title in mapping for title in predicted)


def test_stage_one_checkpoint_and_licence(luke_run, tiny_model, tmp_path):
    run = shutil.copytree(luke_run, str(tmp_path / "run"))
    write_checkpoint(run, tiny_model, tag="step0000005", step=5, epoch=0, fix_bert_weights=True)
    out = str(tmp_path / "stage1")
    options = ExportOptions(license="apache-2.0", model_name="org/luke-stage1", progress=False)
    export_huggingface(os.path.join(run, "step0000005"), out, options)
    card = card_of(out)
    assert front_matter(card)["license"] == "apache-2.0"
    assert card.startswith("---") and "# org/luke-stage1" in card
    assert "the entity parts only (stage 1" in table_value(card, "trained")
    assert "metrics at step 5 " in card and table_value(card, "masked word loss") == "5.25"
    assert "Published under `apache-2.0`" in card
