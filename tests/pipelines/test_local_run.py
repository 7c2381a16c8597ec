"""Both pipelines run end to end with kfp.local (SubprocessRunner, the local torchrun
launcher), on small inputs and tiny models:

- LUKE on the real enwiki fragment split into two parts, everything in SeaweedFS: the
  ParallelFor over the parts and the merge in part order, both stages, the export (loaded
  with transformers), and the upload branch of the `hf_repo_id` condition run against a
  local Hub server; nothing written outside the S3 work dir but kfp's pipeline root.
- mLUKE on two synthetic Wikipedias (en, de) linked through a synthetic Wikidata dump, with
  a SentencePiece XLM-R tokenizer trained here: the multilingual vocabulary merges the
  items, both datasets are sampled in training, the export loads with MLukeTokenizer, and
  without a repo id the upload branch does not run.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import tempfile
from pathlib import Path

import pytest

from luke_core import storage
from luke_core.base_model import LocalBaseModelOptions, make_local_base_model
from luke_core.dataset.format import load_metadata
from luke_core.dump_db import DumpDB
from luke_core.dump_db.reader import DumpReader
from luke_core.entity_vocab.interwiki_db import InterwikiDB
from luke_core.entity_vocab.vocab import EntityVocab
from luke_core.training.metrics import read_metrics
from luke_core.workdir import STAGES, WorkDir
from luke_testing import synthetic_wiki
from luke_testing.mediawiki import WikiPage, write_dump
from pipelines.runs import run_local

pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("clean_deepspeed_shm"),
    # kfp.local's notes that resources and the base image do not apply locally
    pytest.mark.filterwarnings("ignore:Task .* have no effect in the current local runner"),
    pytest.mark.filterwarnings("ignore:You may be attemping to run a task that uses custom"),
]

TINY_TRAINING = {
    "stage1_deepspeed_config": "tiny-cpu",
    "stage2_deepspeed_config": "tiny-cpu",
    "num_epochs": 1,
    "entity_emb_size": 32,
    "save_interval_steps": 0,
    "dataloader_workers": 0,
    "procs_per_node": 2,
    "max_seq_length": 128,
    "max_entity_length": 32,
}


def executor_outputs(pipeline_root: Path) -> dict[str, dict]:
    """Each task's executor output in the one run under the pipeline root, by its folder
    (`merge-dump-db`, `for-loop-1-iteration-0/build-dump-db`, ...)."""
    (run,) = [p for p in pipeline_root.iterdir() if p.is_dir()]
    return {
        str(path.parent.relative_to(run)): json.loads(path.read_text())
        for path in run.rglob("executor_output.json")
    }


def metrics_of(outputs: dict[str, dict], task: str) -> dict:
    return outputs[task]["artifacts"]["metrics"]["artifacts"][0]["metadata"]


def returned(outputs: dict[str, dict], task: str):
    return outputs[task]["parameterValues"]["Output"]


def s3_keys(bucket_uri: str) -> list[str]:
    bucket, _ = storage.split_s3(bucket_uri)
    pages = storage.s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def split_fragment(fragment: Path, folder: Path) -> dict[str, tuple[str, list[str]]]:
    """The fragment's pages in two dumps, numbered as Wikimedia numbers parts (2 and 10, so
    that only a numeric order puts them right): part -> (path, its article titles)."""
    with DumpReader(str(fragment)) as reader:
        pages = list(reader.pages())
    half = len(pages) // 2
    parts = {}
    for number, chunk in (("2", pages[:half]), ("10", pages[half:])):
        path = folder / f"enwiki-test-pages-articles{number}.xml.bz2"
        wiki = [WikiPage(p.title, p.text, p.namespace, p.redirect, p.page_id) for p in chunk]
        write_dump(str(path), wiki, compression="bz2")
        articles = [p.title for p in chunk if p.namespace == 0 and p.redirect is None]
        parts[number] = (str(path), articles)
    return parts


@pytest.fixture
def hub(monkeypatch):
    from luke_testing.hub_server import HubServer

    token = "hf_" + "e2e0" * 9
    with HubServer(token) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", token)
        monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")  # the fake Hub speaks LFS
        yield server


@pytest.fixture
def isolated_dirs(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A working directory and a temporary directory of the run's own, to see afterwards
    what the run left on the local disk."""
    cwd, scratch = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    scratch.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)  # recomputed from TMPDIR
    return cwd, scratch


def test_luke_pipeline_on_s3(s3, enwiki_fragment, hub, isolated_dirs, tmp_path):
    cwd, scratch = isolated_dirs
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    parts = split_fragment(enwiki_fragment, inputs)
    dump_uris = {}
    for number, (path, _) in parts.items():
        dump_uris[number] = f"{s3}/dumps/{os.path.basename(path)}"
        storage.upload_file(path, dump_uris[number])
    base_model = str(inputs / "base-model")
    make_local_base_model(str(enwiki_fragment), base_model, LocalBaseModelOptions(
        vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_articles=200))  # fmt: skip
    storage.upload_dir(base_model, f"{s3}/base-model")
    work_dir = f"{s3}/run"
    params = {
        **TINY_TRAINING,
        "dump_uris": [dump_uris["10"], dump_uris["2"]],  # ParallelFor outputs: any order
        "work_dir": work_dir,
        "bert_model_name": f"{s3}/base-model",
        "entity_vocab_size": 5000,
        "sentence_splitter": "en",
        "max_num_documents": 24,
        "hf_repo_id": "studio/luke-e2e",
    }
    model_uri = run_local("luke", params, "kfp")
    work = WorkDir(work_dir)
    assert model_uri == work.huggingface
    outputs = executor_outputs(cwd / "kfp")

    # the parts in parallel tasks, merged in the order of their numbers
    part_dbs = sorted(returned(outputs, t) for t in outputs if t.endswith("/build-dump-db"))
    assert part_dbs == sorted(work.dump_db_part(uri) for uri in dump_uris.values())
    merged = returned(outputs, "merge-dump-db")
    assert merged == work.dump_db("en")
    with DumpDB(merged) as db:
        assert db.meta["merged_from"] == [part_dbs[1], part_dbs[0]]  # ...2 before ...10
        assert db.page_count() == sum(len(titles) for _, titles in parts.values())
        first, second = parts["2"][1][0], parts["10"][1][0]
        assert db.get_page(first).id < db.get_page(second).id
    assert metrics_of(outputs, "merge-dump-db")["parts"] == 2

    dataset = returned(outputs, "build-dataset")
    items = load_metadata(dataset).number_of_items
    assert load_metadata(dataset).build_options["max_num_documents"] == 24
    steps = returned(outputs, "compute-total-training-steps")
    assert (
        steps
        == math.ceil(items * 1 / 8)
        == metrics_of(outputs, "compute-total-training-steps")["total_training_steps"]
    )

    check_training_runs(work_dir, [dataset])
    for task in ("pretrain", "pretrain-2"):
        metrics = metrics_of(outputs, task)
        for name in ("final_masked_lm_accuracy", "final_masked_entity_accuracy"):
            assert 0.0 <= metrics[name] <= 1.0
        curves = outputs[task]["artifacts"]["curves"]["artifacts"][0]["uri"]
        assert "<polyline" in Path(curves).read_text()

    local_model = check_luke_export(model_uri, tmp_path / "downloaded")

    # the upload branch ran, against the local Hub: the exported files, as they are
    (upload,) = [task for task in outputs if task.endswith("upload-to-hub")]
    assert returned(outputs, upload) == f"{hub.url}/studio/luke-e2e"
    uploaded = hub.files("studio/luke-e2e")
    assert sorted(uploaded) == sorted(os.listdir(local_model))
    for name, data in uploaded.items():
        assert data == (local_model / name).read_bytes(), name
    assert hub.repos["studio/luke-e2e"].private

    # large data only under the work dir; locally only kfp's pipeline root
    keys = s3_keys(s3)
    assert {k.split("/")[0] for k in keys} == {"dumps", "base-model", "run"}
    assert {k.split("/")[1] for k in keys if k.startswith("run/")} == {
        "dump_db", "entity_vocab", "dataset", "training", "huggingface"
    }  # fmt: skip
    assert os.listdir(cwd) == ["kfp"]
    # scratch space holds no copy of the data (databases, shards, checkpoints, models)
    large = {".db", ".arrow", ".pt", ".safetensors", ".bz2"}
    assert not [
        p for p in scratch.rglob("*") if p.suffix in large or p.name == "entity_vocab.jsonl"
    ]


def check_training_runs(work_dir: str, datasets: list[str]) -> tuple[dict, dict]:
    """Stage 1 trained the entity parts alone, stage 2 everything from stage 1's weights;
    both on the datasets, each with its metrics and a complete checkpoint."""
    work = WorkDir(work_dir)
    stage1, stage2 = (storage.read_json(f"{work.training(s)}/metadata.json") for s in STAGES)
    assert stage1["options"]["fix_bert_weights"] is True
    assert stage2["options"]["fix_bert_weights"] is False
    assert stage2["options"]["reset_optimization_states"] is True
    assert stage2["resumed_from"].startswith(work.training("stage1") + "/")
    for stage, metadata in zip(STAGES, (stage1, stage2), strict=True):
        run = work.training(stage)
        assert sorted(d["uri"] for d in metadata["datasets"]) == sorted(datasets)
        assert storage.read_text(f"{run}/latest").strip() == "epoch1"  # num_epochs 1
        rows = read_metrics(run)
        assert rows and rows[-1]["epoch"] == 1 and rows[-1]["step"] > 0
    return stage1, stage2


def check_luke_export(model_uri: str, local: Path) -> Path:
    import torch
    from transformers import LukeForMaskedLM, LukeTokenizer

    storage.download_dir(model_uri, str(local))
    model = LukeForMaskedLM.from_pretrained(str(local)).eval()
    tokenizer = LukeTokenizer.from_pretrained(str(local))
    entity = next(t for t in tokenizer.entity_vocab if not t.startswith("["))
    text = f"{entity} is mentioned here."
    encoding = tokenizer(text, entities=[entity], entity_spans=[(0, len(entity))],
                         return_tensors="pt")  # fmt: skip
    assert encoding["entity_ids"][0, 0].item() == tokenizer.entity_vocab[entity]
    with torch.no_grad():
        out = model(**encoding)
    check_word_and_entity_tables(model, tokenizer, out)
    return local


def check_word_and_entity_tables(model, tokenizer, out) -> None:
    """<ent>, <ent2> and the other added tokens close the word table (every id the tokenizer
    gives has a row); the heads cover both tables."""
    vocab_size = model.config.vocab_size
    added = tokenizer.convert_tokens_to_ids([tokenizer.entity_1_token, tokenizer.entity_2_token])
    assert added[1] == added[0] + 1 and len(tokenizer) == vocab_size > added[1]
    assert out.logits.shape[-1] == vocab_size
    assert out.entity_logits.shape[-1] == model.config.entity_vocab_size
    assert tokenizer.entity_vocab["[MASK2]"] == model.config.entity_vocab_size - 1


def test_mluke_pipeline_on_synthetic_wikipedias(tmp_path, capfd):
    inputs = tmp_path / "inputs"
    dumps = synthetic_wiki.write_dumps(str(inputs), ["en", "de"])
    wikidata = synthetic_wiki.write_wikidata(str(inputs / "wikidata.json.bz2"))
    texts = synthetic_wiki.plain_text("en") + synthetic_wiki.plain_text("de")
    base_model = synthetic_wiki.save_xlmr_base_model(str(inputs / "xlmr-tiny"), texts)
    work_dir, root = str(tmp_path / "work"), tmp_path / "kfp"
    params = {
        **TINY_TRAINING,
        "wikipedias": [{"language": lang, "dump": path} for lang, path in dumps.items()],
        "wikidata_uri": wikidata,
        "work_dir": work_dir,
        "bert_model_name": base_model,
        "language_vocab_size": 1000,
        "entity_vocab_size": 1000,
        "min_num_languages": 2,
    }
    model_uri = run_local("mluke", params, str(root))
    work = WorkDir(work_dir)
    assert model_uri == work.huggingface
    outputs = executor_outputs(root)
    log = capfd.readouterr()

    vocab = check_multilingual_vocab(work_dir)
    datasets = sorted(returned(outputs, t) for t in outputs if t.endswith("/build-dataset"))
    assert datasets == [work.dataset("de"), work.dataset("en")]
    sizes = {}
    for dataset in datasets:
        metadata = load_metadata(dataset)
        assert metadata.tokenizer_class == "XLMRobertaTokenizer"
        assert metadata.entity_vocab_size == len(vocab)
        assert metadata.language == os.path.basename(dataset)
        sizes[dataset] = metadata.number_of_items

    stage1, _ = check_training_runs(work_dir, datasets)
    assert stage1["options"]["whole_word_masking"] is False  # subword masking, as mLUKE
    # both datasets sampled: the loader's proportions are N^0.7 / sum (mLUKE's smoothing)
    weights = {d: n**0.7 for d, n in sizes.items()}
    wanted = {d: round(w / sum(weights.values()), 4) for d, w in weights.items()}
    plans = re.findall(r"pretraining data: 2 dirs, (\d+) items.*proportions (\{.*\})",
                       log.out + log.err)  # fmt: skip
    assert plans, "no training plan in the logs"
    for total, proportions in plans:
        assert int(total) == sum(sizes.values())
        assert ast.literal_eval(proportions) == wanted

    check_mluke_export(model_uri, base_model, vocab)
    # no repo id: the upload branch did not run
    assert not [t for t in outputs if "upload-to-hub" in t]


def check_multilingual_vocab(work_dir: str) -> EntityVocab:
    """Items present in both languages merged into one entry each (with the link counts
    of both), the one-language items left out (min_num_languages 2)."""
    with InterwikiDB(WorkDir(work_dir).interwiki_db) as interwiki:
        assert interwiki.get_item("Germany", "en") == interwiki.get_item("Deutschland", "de")
    vocab = EntityVocab.load(WorkDir(work_dir).entity_vocab())
    assert vocab.is_multilingual and set(vocab.languages) == {"en", "de"}
    both = [p for p in synthetic_wiki.PLACES if len(p.titles) == 2]
    assert len(vocab) == 3 + len(both)
    counts = link_counts()
    for place in both:
        ids = {vocab.get_id(title, lang) for lang, title in place.titles.items()}
        assert len(ids) == 1 and None not in ids, place
        entry = vocab.get_entry(ids.pop())
        assert set(entry.entities) == {(t, lang) for lang, t in place.titles.items()}
        assert entry.count == sum(counts[lang][t] for lang, t in place.titles.items())
    assert vocab.get_id("River Thames", "en") is None
    assert vocab.get_id("Spree", "de") is None
    return vocab


def link_counts() -> dict[str, dict[str, int]]:
    """Per language, how often each title is linked in the synthetic articles."""
    from collections import Counter

    return {
        lang: Counter(
            m.group(1)
            for page in synthetic_wiki.articles(lang)
            for m in re.finditer(r"\[\[([^\]|]+)", page.text)
        )
        for lang in ("en", "de")
    }


def check_mluke_export(model_uri: str, base_model: str, vocab: EntityVocab) -> None:
    import torch
    from transformers import AutoTokenizer, LukeForMaskedLM, MLukeTokenizer

    model = LukeForMaskedLM.from_pretrained(model_uri).eval()
    tokenizer = MLukeTokenizer.from_pretrained(model_uri)
    spm = "sentencepiece.bpe.model"
    assert Path(model_uri, spm).read_bytes() == Path(base_model, spm).read_bytes()
    germany = vocab.get_id("Germany", "en")
    assert tokenizer.entity_vocab["en:Germany"] == tokenizer.entity_vocab["de:Deutschland"]
    assert tokenizer.entity_vocab["de:Deutschland"] == germany
    text = "Deutschland liegt nicht weit von Wien."
    # words keep the ids of the base model's XLM-R tokenizer (its fairseq offset included)
    assert (
        tokenizer(text)["input_ids"] == AutoTokenizer.from_pretrained(base_model)(text)["input_ids"]
    )
    encoding = tokenizer(text, entities=["de:Deutschland"], entity_spans=[(0, 11)],
                         return_tensors="pt")  # fmt: skip
    assert encoding["entity_ids"][0, 0].item() == germany
    with torch.no_grad():
        out = model(**encoding)
    check_word_and_entity_tables(model, tokenizer, out)
    assert model.config.entity_vocab_size == len(vocab) + 1  # [MASK2]
