"""The demo: its building blocks (the sample dump, the base model made from it) fast, then
`luke-pipeline demo` end to end, once on a local folder (and again, reusing what is done)
and once with `--s3` (everything in a SeaweedFS started for the run, stopped after)."""

from __future__ import annotations

import html
import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from luke_core.base_model import LocalBaseModelOptions, article_texts, make_local_base_model
from luke_core.dataset.format import load_metadata
from luke_core.dump_db import DumpDB
from luke_core.errors import LukeError
from luke_core.samples import ENWIKI_FRAGMENT, sample_dump
from luke_core.training.metrics import read_metrics
from luke_core.workdir import WorkDir
from luke_testing.mediawiki import WikiPage, write_dump
from pipelines.cli import luke_pipeline
from pipelines.demo import run_demo

ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
pytestmark = [
    pytest.mark.filterwarnings("ignore:Task .* have no effect in the current local runner"),
    pytest.mark.filterwarnings("ignore:You may be attemping to run a task that uses custom"),
]


def test_the_sample_dump_is_the_shared_fragment_when_present(enwiki_fragment):
    assert sample_dump() == enwiki_fragment
    assert sample_dump(ENWIKI_FRAGMENT) == enwiki_fragment


@pytest.fixture(scope="module")
def base_model(tmp_path_factory, enwiki_fragment) -> str:
    folder = str(tmp_path_factory.mktemp("demo") / "base-model")
    options = LocalBaseModelOptions(vocab_size=2000, hidden_size=32, intermediate_size=64)
    return make_local_base_model(str(enwiki_fragment), folder, options)


def test_base_model_tokenizer_is_trained_on_the_sample(base_model, enwiki_fragment):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    assert tokenizer.is_fast and type(tokenizer).__name__.startswith("Roberta")
    assert tokenizer.convert_tokens_to_ids(ROBERTA_SPECIALS) == [0, 1, 2, 3, 4]
    assert len(tokenizer) <= 2000 and tokenizer.model_max_length == 128
    vocab = json.loads(Path(base_model, "vocab.json").read_text())
    assert len(vocab) == len(tokenizer)
    # the words the sample's articles use most are single tokens: trained on that text
    words = Counter(w for text in article_texts(str(enwiki_fragment), 200) for w in text.split())
    frequent = [w for w, _ in words.most_common(50) if w.isalpha()]
    assert frequent and all(len(tokenizer.tokenize(" " + w)) == 1 for w in frequent)
    assert len(tokenizer.tokenize(" Zyzzyva")) > 1
    # any text round-trips (byte-level BPE)
    text = "Anarchism is a political philosophy — naïve 東京 text!"
    assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == text


def test_base_model_loads_as_a_roberta(base_model):
    import torch
    from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModel.from_pretrained(base_model).eval()
    assert model.config.model_type == "roberta"
    assert model.config.vocab_size == len(tokenizer)
    assert model.config.max_position_embeddings == 128 + 2
    assert model.pooler is not None  # saved, as a full RoBERTa checkpoint has it
    masked_lm = AutoModelForMaskedLM.from_pretrained(base_model).eval()
    encoding = tokenizer("Anarchism is a <mask> philosophy.", return_tensors="pt")
    with torch.no_grad():
        logits = masked_lm(**encoding).logits
    assert logits.shape == (1, encoding["input_ids"].shape[1], len(tokenizer))
    # the same random weights the pooler was saved with
    assert torch.equal(
        model.embeddings.word_embeddings.weight, masked_lm.roberta.embeddings.word_embeddings.weight
    )


def test_base_model_of_a_dump_without_articles(tmp_path):
    dump = write_dump(str(tmp_path / "empty.xml"), [WikiPage("Talk:X", "no", namespace=1)])
    with pytest.raises(LukeError, match="no article text to train a tokenizer on"):
        make_local_base_model(dump, str(tmp_path / "model"), LocalBaseModelOptions())
    assert not (tmp_path / "model").exists()


def stage_metrics(work_dir: str, stage: str) -> list[dict]:
    return read_metrics(WorkDir(str(work_dir)).training(stage))


@pytest.mark.slow
@pytest.mark.usefixtures("clean_deepspeed_shm", "enwiki_fragment")
def test_demo_end_to_end_and_again(tmp_path):
    from transformers import LukeForMaskedLM, LukeTokenizer

    out = tmp_path / "demo"
    result = CliRunner().invoke(luke_pipeline, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    model, report = WorkDir(str(out / "work")).huggingface, str(out / "report.html")
    assert lines[-3:-1] == [f"Hugging Face model: {model}", f"report: {report}"]
    accuracies = re.fullmatch(
        r"final masked-word accuracy ([\d.]+), masked-entity accuracy ([\d.]+) \(\d+ s\)",
        lines[-1],
    )
    assert accuracies, lines[-1]
    summary = json.loads(result.output[result.output.rindex("{\n") : result.output.rindex("}") + 1])
    assert (summary["huggingface_model"], summary["report"]) == (model, report)

    work = str(out / "work")
    stage1, stage2 = stage_metrics(work, "stage1"), stage_metrics(work, "stage2")
    word, entity = summary["masked_word_accuracy"], summary["masked_entity_accuracy"]
    assert (word, entity) == (
        stage2[-1]["masked_lm_accuracy"],
        stage2[-1]["masked_entity_accuracy"],
    )
    assert 0.0 <= word <= 1.0 and 0.0 <= entity <= 1.0
    assert entity > stage1[0]["masked_entity_accuracy"]  # it learned
    page = Path(report).read_text()
    assert "LUKE demo, stage1" in page and "LUKE demo, stage2" in page
    assert page.count("<polyline") == 8  # loss, two accuracies, lr, per stage
    card = [line for line in Path(model, "README.md").read_text().splitlines() if line.strip()]
    assert html.escape(card[-1]) in page  # the model card
    LukeForMaskedLM.from_pretrained(model)
    LukeTokenizer.from_pretrained(model)
    assert Path(out, "base-model", "config.json").is_file()

    # again: what is complete is reused, the result is the same
    layout = WorkDir(str(work))
    dataset_built = load_metadata(layout.dataset("en")).build_options
    with DumpDB(layout.dump_db("en")) as db:
        merged = db.meta["build_id"]
    again = run_demo(str(out))
    assert (again.masked_word_accuracy, again.masked_entity_accuracy) == (word, entity)
    with DumpDB(layout.dump_db("en")) as db:
        assert db.meta["build_id"] == merged
    assert load_metadata(layout.dataset("en")).build_options == dataset_built
    assert stage_metrics(work, "stage2") == stage2  # no step trained twice


@pytest.mark.slow
@pytest.mark.usefixtures("clean_deepspeed_shm", "enwiki_fragment")
def test_demo_on_seaweedfs(tmp_path, monkeypatch):
    """Everything of the run in the SeaweedFS started for it; the server stopped and the
    environment as it was afterwards."""
    from luke_testing import seaweedfs

    started, stored = [], []
    real_start = seaweedfs.start_seaweedfs

    def start_and_watch(*args, **kwargs):
        server = real_start(*args, **kwargs)
        real_stop = server.stop

        def stop():  # what the bucket holds when the demo lets the server go
            objects = server.client().list_objects_v2(Bucket="luke-demo").get("Contents", [])
            stored.extend(item["Key"] for item in objects)
            real_stop()

        server.stop = stop
        started.append(server)
        return server

    monkeypatch.setattr(seaweedfs, "start_seaweedfs", start_and_watch)
    environment = dict(os.environ)
    out = tmp_path / "demo"
    result = run_demo(str(out), s3=True)

    (server,) = started
    assert server.process.poll() is not None  # stopped
    assert dict(os.environ) == environment
    assert {key.split("/")[0] for key in stored} == {"dumps", "run"}
    run = WorkDir("run")
    for key in (run.dump_db("en"), f"{run.dataset('en')}/metadata.json", run.entity_vocab("en"),
                f"{run.training('stage1')}/latest", f"{run.training('stage2')}/metrics.jsonl",
                f"{run.huggingface}/config.json"):  # fmt: skip
        assert key in stored
    assert sorted(os.listdir(out)) == [
        "base-model", "huggingface", "kfp", "report.html", "seaweedfs"
    ]  # fmt: skip
    assert result.huggingface_model == str(out / "huggingface")  # downloaded from the bucket
    assert sorted(os.listdir(result.huggingface_model)) == sorted(
        key.removeprefix("run/huggingface/") for key in stored if key.startswith("run/huggingface/")
    )
    assert 0.0 <= result.masked_entity_accuracy <= 1.0
    assert "LUKE demo, stage2" in Path(result.report).read_text()
