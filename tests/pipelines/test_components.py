"""The components called as plain functions (`component.python_func`) with hand-built KFP
artifacts on local paths: what each writes under the work dir, the metrics, Markdown and
pointer artifacts it leaves for the UI, and the reuse of current outputs."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from collections import Counter

import pytest
from kfp import dsl

from components import support
from components.dataset import build_dataset, compute_total_training_steps
from components.dump_db import build_dump_db, merge_dump_db
from components.entity_vocab import build_entity_vocab, build_interwiki_db
from components.export import export_huggingface, upload_to_hub
from components.report import curves_html
from components.training import pretrain
from luke_core.dataset.format import load_metadata
from luke_core.dump_db import DumpDB
from luke_core.entity_vocab.vocab import EntityVocab
from luke_core.errors import LukeError
from luke_core.training.deepspeed_config import load_config
from luke_testing.mediawiki import WikiPage, write_dump
from luke_testing.pretraining_data import (
    save_tiny_tokenizer,
    synthetic_instances,
    write_dataset,
)

ARTICLES = {
    "Tokyo": "'''Tokyo''' is the capital of [[Japan]]. It lies on [[Honshu]], the largest "
    "island of [[Japan]].\n\nTokyo hosted the [[Summer Olympics|Olympic Games]] twice.",
    "Japan": "'''Japan''' is an island country in [[Asia]]. Its capital is [[Tokyo]] and its "
    "largest island is [[Honshu]].\n\n== History ==\nJapan joined the [[Summer Olympics]] early.",
    "Honshu": "'''Honshu''' is the main island of [[Nippon]]. [[Tokyo]] and [[Osaka]] lie on it.",
    "Asia": "'''Asia''' is the largest continent. [[Japan]] lies in its east.",
    "Summer Olympics": "The '''Summer Olympics''' were held in [[Tokyo]] in 1964 and 2021.",
    "Osaka": "'''Osaka''' is a large city on [[Honshu]] in [[Japan]].",
}
REDIRECTS = {"Nippon": "Japan"}


def wiki_pages(articles: dict[str, str] = ARTICLES) -> list[WikiPage]:
    return [
        *(WikiPage(title, text) for title, text in articles.items()),
        *(WikiPage(title, redirect=target) for title, target in REDIRECTS.items()),
        WikiPage("Talk:Tokyo", "A talk page, not an article.", namespace=1),
    ]


def link_counts(articles: dict[str, str] = ARTICLES) -> Counter:
    """Link targets over all articles, redirects resolved: counted from the markup."""
    targets = re.findall(r"\[\[([^\]|]+)", "\n".join(articles.values()))
    return Counter(REDIRECTS.get(t, t) for t in targets)


def outputs(tmp_path, **kinds) -> dict[str, dsl.Artifact]:
    """Output artifacts as KFP's executor gives them: a name and a local file."""
    folder = tmp_path / "kfp-outputs"
    folder.mkdir(exist_ok=True)
    return {name: cls(name=name, uri=str(folder / name)) for name, cls in kinds.items()}


def pointer(artifact: dsl.Artifact) -> dict:
    with open(artifact.path) as f:
        return json.load(f)


def call_build_dump_db(tmp_path, dump: str, *, name: str = "", reuse: bool = True):
    arts = outputs(tmp_path, metrics=dsl.Metrics, dump_db=dsl.Artifact)
    uri = build_dump_db.python_func(
        dump_uri=dump,
        work_dir=str(tmp_path / "work"),
        name=name,
        s3_endpoint="",
        reuse_outputs=reuse,
        **arts,
    )
    return uri, arts


@pytest.fixture
def dump(tmp_path) -> str:
    return write_dump(str(tmp_path / "enwiki-test.xml.bz2"), wiki_pages(), compression="bz2")


def test_build_dump_db(tmp_path, dump):
    uri, arts = call_build_dump_db(tmp_path, dump)
    assert re.fullmatch(
        re.escape(str(tmp_path / "work" / "dump_db" / "parts" / "enwiki-test.xml.bz2-"))
        + r"[0-9a-f]{8}\.db",
        uri,
    )
    with DumpDB(uri) as db:
        assert sorted(db.titles()) == sorted(ARTICLES)
        assert db.resolve_redirect("Nippon") == "Japan"
    metrics = arts["metrics"].metadata
    assert (metrics["pages"], metrics["redirects"], metrics["skipped_pages"]) == (6, 1, 1)
    assert metrics["links"] == sum(link_counts().values())
    assert metrics["reused"] == 0
    assert pointer(arts["dump_db"]) == {
        "uri": uri, "kind": "dump_db", "pages": 6, "redirects": 1, "reused": False
    }  # fmt: skip
    assert arts["dump_db"].metadata["uri"] == uri

    named, _ = call_build_dump_db(tmp_path, dump, name="en")
    assert named == str(tmp_path / "work" / "dump_db" / "en.db")


def build_id(uri: str) -> str:
    with DumpDB(uri) as db:
        return db.meta["build_id"]


def test_build_dump_db_reuses_a_current_database(tmp_path, dump):
    uri, _ = call_build_dump_db(tmp_path, dump)
    first = build_id(uri)
    again, arts = call_build_dump_db(tmp_path, dump)
    assert again == uri and build_id(uri) == first
    assert arts["metrics"].metadata["reused"] == 1
    assert arts["metrics"].metadata["pages"] == 6
    assert pointer(arts["dump_db"])["reused"] is True

    call_build_dump_db(tmp_path, dump, reuse=False)  # reuse off: built again
    assert build_id(uri) != first

    # a new dump at the same path: built again from it (written a little later than the
    # build: file times come from a coarser clock than the build's timestamp)
    time.sleep(0.05)
    write_dump(dump, wiki_pages({**ARTICLES, "Kyoto": "'''Kyoto''' is in [[Japan]]."}),
               compression="bz2")  # fmt: skip
    _, arts = call_build_dump_db(tmp_path, dump)
    assert arts["metrics"].metadata["reused"] == 0
    with DumpDB(uri) as db:
        assert db.is_article("Kyoto") and db.page_count() == 7

    # another dump copied over it with an old file time (cp -p, rsync -a): its size tells
    old_time = os.path.getmtime(dump) - 3600
    write_dump(dump, wiki_pages(), compression="bz2")
    os.utime(dump, (old_time, old_time))
    _, arts = call_build_dump_db(tmp_path, dump)
    assert arts["metrics"].metadata["reused"] == 0
    with DumpDB(uri) as db:
        assert not db.is_article("Kyoto") and db.page_count() == 6


def test_a_database_parsed_without_image_captions_is_built_again(tmp_path, dump):
    from luke_core import dump_db as step

    uri, _ = call_build_dump_db(tmp_path, dump)
    without = step.BuildDumpDbOptions(processes=1, image_captions=False, progress=False)
    step.build_dump_db(dump, uri, without)  # as built before captions were kept
    _, arts = call_build_dump_db(tmp_path, dump)
    assert arts["metrics"].metadata["reused"] == 0
    with DumpDB(uri) as db:
        assert db.image_captions


def test_a_glob_names_its_part_database_literally(tmp_path):
    parts = {"p2": ["Tokyo", "Japan"], "p10": ["Honshu", "Asia"]}
    for part, titles in parts.items():
        articles = {t: ARTICLES[t] for t in titles}
        write_dump(
            str(tmp_path / f"wiki-{part}.xml"), [WikiPage(t, x) for t, x in articles.items()]
        )
    uri, _ = call_build_dump_db(tmp_path, str(tmp_path / "wiki-p*.xml"))
    assert re.search(r"/dump_db/parts/wiki-p_\.xml-[0-9a-f]{8}\.db$", uri), uri
    with DumpDB(uri) as db:
        # the glob's files in the order of their numbers: p2's pages first
        assert db.meta["sources"] == [str(tmp_path / "wiki-p2.xml"), str(tmp_path / "wiki-p10.xml")]
        assert db.get_page("Japan").id < db.get_page("Honshu").id


def call_merge(tmp_path, parts: list[str], reuse: bool = True):
    arts = outputs(tmp_path, metrics=dsl.Metrics, dump_db=dsl.Artifact)
    uri = merge_dump_db.python_func(
        part_uris=parts,
        work_dir=str(tmp_path / "work"),
        name="en",
        s3_endpoint="",
        reuse_outputs=reuse,
        **arts,
    )
    return uri, arts


def test_merge_orders_parts_by_number_and_reuses(tmp_path):
    titles = {"articles2": ["Tokyo", "Japan", "Honshu"], "articles10": ["Asia", "Osaka"]}
    parts = {}
    for part, names in titles.items():
        dump = write_dump(
            str(tmp_path / f"enwiki-pages-{part}.xml"),
            [WikiPage(t, ARTICLES[t]) for t in names],
        )
        parts[part], _ = call_build_dump_db(tmp_path, dump)
    # ParallelFor outputs come in any order
    uri, arts = call_merge(tmp_path, [parts["articles10"], parts["articles2"]])
    assert uri == str(tmp_path / "work" / "dump_db" / "en.db")
    with DumpDB(uri) as db:
        assert db.meta["merged_from"] == [parts["articles2"], parts["articles10"]]
        ids = {title: db.get_page(title).id for title in ("Tokyo", "Japan", "Honshu", "Asia")}
    assert max(ids["Tokyo"], ids["Japan"], ids["Honshu"]) < ids["Asia"]
    assert (arts["metrics"].metadata["parts"], arts["metrics"].metadata["pages"]) == (2, 5)
    assert arts["metrics"].metadata["reused"] == 0

    merged = build_id(uri)
    _, arts = call_merge(tmp_path, [parts["articles2"], parts["articles10"]])
    assert arts["metrics"].metadata["reused"] == 1 and build_id(uri) == merged
    # a part built again makes the merge stale
    time.sleep(0.05)  # file times come from a coarser clock than the merge's timestamp
    call_build_dump_db(tmp_path, str(tmp_path / "enwiki-pages-articles2.xml"), reuse=False)
    _, arts = call_merge(tmp_path, [parts["articles2"], parts["articles10"]])
    assert arts["metrics"].metadata["reused"] == 0 and build_id(uri) != merged


@pytest.fixture
def dump_db(tmp_path, dump) -> str:
    uri, _ = call_build_dump_db(tmp_path, dump, name="en")
    return uri


def call_entity_vocab(tmp_path, dump_db: str, **options):
    arts = outputs(tmp_path, metrics=dsl.Metrics, top_entities=dsl.Markdown,
                   entity_vocab=dsl.Artifact)  # fmt: skip
    arguments = {
        "vocab_size": 100,
        "min_count": 0,
        "language": "",
        "white_list_uris": [],
        "white_list_only": False,
        **options,
    }
    uri = build_entity_vocab.python_func(
        dump_db_uri=dump_db, work_dir=str(tmp_path / "work"), name="en", s3_endpoint="",
        reuse_outputs=True, **arguments, **arts,
    )  # fmt: skip
    return uri, arts


def test_build_entity_vocab(tmp_path, dump_db):
    uri, arts = call_entity_vocab(tmp_path, dump_db)
    assert uri == str(tmp_path / "work" / "entity_vocab" / "en.jsonl")
    vocab = EntityVocab.load(uri)
    counts = link_counts()
    assert {entry.title: entry.count for entry in list(vocab)[3:]} == dict(counts)
    markdown = open(arts["top_entities"].path).read()
    rows = [line for line in markdown.splitlines() if re.match(r"\| \d+ \|", line)]
    (top, top_count), _ = counts.most_common(2)
    assert rows[0] == f"| 3 | {top} | {top_count} |"
    assert len(rows) == len(counts)
    assert arts["metrics"].metadata["entries"] == len(vocab)
    assert pointer(arts["entity_vocab"]) == {"uri": uri, "kind": "entity_vocab",
                                             "entries": len(vocab), "reused": False}  # fmt: skip
    # the same database and options: kept; another size: built again
    _, arts = call_entity_vocab(tmp_path, dump_db)
    assert arts["metrics"].metadata["reused"] == 1
    _, arts = call_entity_vocab(tmp_path, dump_db, vocab_size=5)
    assert arts["metrics"].metadata["reused"] == 0 and len(EntityVocab.load(uri)) == 5


def call_interwiki(tmp_path, wikidata: str, languages: list[str], wikipedias=()):
    arts = outputs(tmp_path, metrics=dsl.Metrics, interwiki_db=dsl.Artifact)
    uri = build_interwiki_db.python_func(
        wikidata_uri=wikidata, work_dir=str(tmp_path / "work"), languages=languages,
        wikipedias=list(wikipedias), max_bad_lines=0, s3_endpoint="", reuse_outputs=True,
        **arts,
    )  # fmt: skip
    return uri, arts


def test_build_interwiki_db_and_its_reuse(tmp_path):
    from luke_core.entity_vocab.interwiki_db import InterwikiDB
    from luke_testing.synthetic_wiki import PLACES, write_wikidata

    wikidata = write_wikidata(str(tmp_path / "wikidata.json.bz2"))
    # no languages given: those of the pipeline's wikipedias
    wikipedias = [{"language": "de", "dump": "d"}, {"language": "en", "dump": "e"}]
    uri, arts = call_interwiki(tmp_path, wikidata, [], wikipedias)
    assert uri == str(tmp_path / "work" / "interwiki.db")
    with InterwikiDB(uri) as db:
        assert db.get_item("Austria", "en") == db.get_item("Österreich", "de") is not None
        assert db.meta["language_filter"] == ["de", "en"]
        first = db.meta["build_id"]
    assert arts["metrics"].metadata["items"] == len(PLACES) + 1  # and one without sitelinks
    assert arts["metrics"].metadata["reused"] == 0
    _, arts = call_interwiki(tmp_path, wikidata, ["en", "de"])  # the same languages
    assert arts["metrics"].metadata["reused"] == 1
    _, arts = call_interwiki(tmp_path, wikidata, ["en"])
    assert arts["metrics"].metadata["reused"] == 0
    with InterwikiDB(uri) as db:
        assert db.meta["build_id"] != first and db.get_item("Österreich", "de") is None


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> str:
    folder = str(tmp_path_factory.mktemp("tokenizer"))
    save_tiny_tokenizer(folder)
    return folder


def call_build_dataset(tmp_path, dump_db, vocab, tokenizer, **options):
    arts = outputs(tmp_path, metrics=dsl.Metrics, report=dsl.Markdown, dataset=dsl.Dataset)
    arguments = {
        "language": "en",
        "sentence_splitter": "",
        "max_seq_length": 64,
        "max_entity_length": 16,
        "max_mention_length": 30,
        "min_sentence_length": 3,
        "include_unk_entities": False,
        "abstract_only": False,
        "include_sentences_without_entities": False,
        "max_num_documents": 0,
        "predefined_entities_only": False,
        "seed": 0,
        **options,
    }
    uri = build_dataset.python_func(
        dump_db_uri=dump_db, tokenizer=tokenizer, preset="", entity_vocab_uri=vocab,
        work_dir=str(tmp_path / "work"), name="en", reuse_outputs=True, s3_endpoint="",
        **arguments, **arts,
    )  # fmt: skip
    return uri, arts


def test_build_dataset_and_its_reuse(tmp_path, dump_db, tokenizer_dir):
    vocab, _ = call_entity_vocab(tmp_path, dump_db)
    uri, arts = call_build_dataset(tmp_path, "", vocab, tokenizer_dir)  # default: the name's db
    assert uri == str(tmp_path / "work" / "dataset" / "en")
    metadata = load_metadata(uri)
    assert metadata.build_options["dump_db"] == dump_db
    assert metadata.build_options["sentence_splitter"] == "en"  # ICU for the language
    assert metadata.number_of_items > 0
    assert arts["metrics"].metadata["sequences"] == metadata.number_of_items
    assert arts["metrics"].metadata["reused"] == 0
    report = open(arts["report"].path).read()
    assert f"`{uri}`: {metadata.number_of_items:,} sequences" in report
    assert pointer(arts["dataset"]) == {
        "uri": uri, "kind": "dataset", "language": "en", "reused": False
    }  # fmt: skip

    # the same inputs and options (the default splitter named): reused
    _, arts = call_build_dataset(tmp_path, dump_db, vocab, tokenizer_dir, sentence_splitter="en")
    assert arts["metrics"].metadata["reused"] == 1
    assert arts["metrics"].metadata["sequences"] == metadata.number_of_items
    assert load_metadata(uri).build_options == metadata.build_options
    # another splitter or another option: built again
    _, arts = call_build_dataset(tmp_path, dump_db, vocab, tokenizer_dir, sentence_splitter="de")
    assert arts["metrics"].metadata["reused"] == 0
    assert load_metadata(uri).build_options["sentence_splitter"] == "de"
    _, arts = call_build_dataset(tmp_path, dump_db, vocab, tokenizer_dir, sentence_splitter="de",
                                 max_seq_length=48)  # fmt: skip
    assert arts["metrics"].metadata["reused"] == 0
    assert load_metadata(uri).max_seq_length == 48

    # the tokenizer compares by its vocabulary: the same one elsewhere is reused, a changed
    # one under the same path is not
    from transformers import AutoTokenizer

    elsewhere = shutil.copytree(tokenizer_dir, tmp_path / "tokenizer-copy")
    same = {"sentence_splitter": "de", "max_seq_length": 48}
    _, arts = call_build_dataset(tmp_path, dump_db, vocab, str(elsewhere), **same)
    assert arts["metrics"].metadata["reused"] == 1
    changed = AutoTokenizer.from_pretrained(str(elsewhere))
    changed.add_tokens(["Tokyoite"])
    changed.save_pretrained(str(elsewhere))
    _, arts = call_build_dataset(tmp_path, dump_db, vocab, str(elsewhere), **same)
    assert arts["metrics"].metadata["reused"] == 0


def test_compute_total_training_steps(tmp_path, tokenizer_dir):
    import numpy as np

    sizes = {"en": 37, "de": 64}
    dirs = []
    for seed, (language, size) in enumerate(sizes.items()):
        instances = synthetic_instances(size, word_ids=range(10, 200),
                                        rng=np.random.default_rng(seed))  # fmt: skip
        path = str(tmp_path / "dataset" / language)
        write_dataset(path, instances, tokenizer_dir=tokenizer_dir, items_per_shard=16,
                      language=language)  # fmt: skip
        dirs.append(path)
    (metrics,) = outputs(tmp_path, metrics=dsl.Metrics).values()
    config = tmp_path / "batch16.json"
    shipped = load_config("tiny-cpu").config
    config.write_text(
        json.dumps({**shipped, "train_batch_size": 16, "train_micro_batch_size_per_gpu": 2})
    )
    steps = compute_total_training_steps.python_func(
        dataset_dirs=dirs, preset="", deepspeed_config=str(config), num_nodes=2, procs_per_node=4,
        num_epochs=3, s3_endpoint="", metrics=metrics,
    )  # fmt: skip
    assert steps == math.ceil(101 * 3 / 16) == 19
    assert metrics.metadata == {"train_batch_size": 16, "total_training_steps": 19}

    # a config that gives only the per-process batch: 2 per process x 3 nodes x 2 processes
    per_process = {k: v for k, v in shipped.items() if k != "train_batch_size"}
    config.write_text(json.dumps({**per_process, "train_micro_batch_size_per_gpu": 2}))
    steps = compute_total_training_steps.python_func(
        dataset_dirs=dirs, preset="", deepspeed_config=str(config), num_nodes=3, procs_per_node=2,
        num_epochs=3, s3_endpoint="", metrics=metrics,
    )  # fmt: skip
    assert steps == math.ceil(101 * 3 / 12) == 26
    assert metrics.metadata["train_batch_size"] == 12


@pytest.fixture(scope="module")
def luke_run(tmp_path_factory, tokenizer_dir) -> str:
    from transformers import AutoTokenizer

    from luke_testing.pretraining_run import (
        entity_vocab_of,
        random_model,
        tiny_model_config,
        write_pretraining_run,
    )

    size = len(AutoTokenizer.from_pretrained(tokenizer_dir))
    model = random_model(tiny_model_config(vocab_size=size, entity_vocab_size=20), seed=3)
    run = str(tmp_path_factory.mktemp("run") / "training" / "stage2")
    metrics = [{"step": 10, "epoch": 1, "loss": 3.5, "masked_lm_accuracy": 0.25,
                "masked_entity_accuracy": 0.5, "lr": 0.001}]  # fmt: skip
    write_pretraining_run(run, model, entity_vocab=entity_vocab_of(20),
                          tokenizer_dir=tokenizer_dir, metrics=metrics)  # fmt: skip
    return run


def call_export(tmp_path, checkpoint: str):
    arts = outputs(tmp_path, metrics=dsl.Metrics, model_card=dsl.Markdown, model=dsl.Model)
    uri = export_huggingface.python_func(
        checkpoint=checkpoint, work_dir=str(tmp_path / "work"), preset="",
        tokenizer_class="LukeTokenizer", use_entity_aware_attention=True,
        remove_entity_embeddings=False, model_name="studio/luke-tiny", s3_endpoint="",
        reuse_outputs=True, **arts,
    )  # fmt: skip
    return uri, arts


def test_export_huggingface(tmp_path, luke_run):
    from transformers import LukeForMaskedLM, LukeTokenizer

    uri, arts = call_export(tmp_path, luke_run)
    assert uri == str(tmp_path / "work" / "huggingface")
    assert open(arts["model_card"].path).read() == open(os.path.join(uri, "README.md")).read()
    assert "studio/luke-tiny" in open(arts["model_card"].path).read()
    assert pointer(arts["model"]) == {"uri": uri, "kind": "huggingface_model", "reused": False,
                                      "tokenizer_class": "LukeTokenizer", "step": 10}  # fmt: skip
    _, arts = call_export(tmp_path, luke_run)  # the same checkpoint and options: kept
    assert pointer(arts["model"])["reused"] is True
    model = LukeForMaskedLM.from_pretrained(uri)
    tokenizer = LukeTokenizer.from_pretrained(uri)
    assert model.config.entity_vocab_size == 21  # [MASK2] added
    assert tokenizer.entity_vocab["[MASK2]"] == 20


def test_upload_to_hub(tmp_path, luke_run, monkeypatch):
    import huggingface_hub

    from luke_testing.hub_server import HubServer

    folder, _ = call_export(tmp_path, luke_run)
    token = "hf_" + "x" * 34
    with HubServer(token) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", token)
        # the fake Hub speaks LFS, not Xet (read at import: the subprocesses of a kfp.local
        # run take HF_HUB_DISABLE_XET=1 from the environment)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
        (metrics,) = outputs(tmp_path, metrics=dsl.Metrics).values()
        url = upload_to_hub.python_func(folder=folder, repo_id="studio/luke-tiny", private=True,
                                        revision="", s3_endpoint="", metrics=metrics)  # fmt: skip
        files = hub.files("studio/luke-tiny")
        assert hub.repos["studio/luke-tiny"].private
    assert url == f"{hub.url}/studio/luke-tiny"
    local = sorted(os.listdir(folder))
    assert sorted(files) == local
    assert all(files[name] == open(os.path.join(folder, name), "rb").read() for name in local)
    assert metrics.metadata == {
        "files": len(local),
        "bytes": sum(os.path.getsize(os.path.join(folder, n)) for n in local),
    }


def use_kubeconfig(monkeypatch, path, server: str, namespace: str) -> None:
    """A kubeconfig for the fake API server, as KUBECONFIG would name it (the kubernetes
    client reads that variable when it is imported)."""
    import yaml
    from kubernetes.config import kube_config

    context = {"cluster": "fake", "user": "fake", "namespace": namespace}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "fake", "user": {}}],
        "contexts": [{"name": "fake", "context": context}],
        "current-context": "fake",
    }
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))


PRETRAIN_ARGUMENTS = {
    "dataset_dirs": ["s3://bucket/run/dataset/en"],
    "stage": "stage2",
    "preset": "luke-base",
    "bert_model_name": "",
    "deepspeed_config": "",
    "num_epochs": 20,
    "entity_emb_size": 0,
    "fix_bert_weights": False,
    "resume_checkpoint_id": "s3://bucket/run/training/stage1",
    "reset_optimization_states": True,
    "masked_lm_prob": 0.15,
    "masked_entity_prob": 0.15,
    "masking": "",
    "save_interval_steps": 1000,
    "sampling_smoothing": 0.7,
    "seed": 42,
    "num_workers": 2,
    "num_nodes": 2,
    "procs_per_node": 4,
    "run_id": "run-0001",
}


def test_pretrain_through_a_pytorchjob(tmp_path, monkeypatch, fake_kube, luke_run):
    """The stage's job gets the step's S3 endpoint as a value and the compile-time image
    and Secrets (job_defaults), unless job_options names others; the finished run's
    figures become the step's metrics and curves."""
    from luke_testing.kube_fake import PodState, Scenario, Snapshot, condition

    done = Snapshot(
        conditions=[condition("Created"), condition("Succeeded")],
        pods={"master-0": PodState("Succeeded", exit_code=0),
              "worker-0": PodState("Succeeded", exit_code=0)},
    )  # fmt: skip
    fake = fake_kube(Scenario(at=lambda t: done, logs={"master-0": [(0.0, "trained")]}))
    use_kubeconfig(monkeypatch, tmp_path / "kubeconfig", fake.url, "luke")
    work_dir = os.path.dirname(os.path.dirname(luke_run))  # its stage2 run is there
    arts = outputs(tmp_path, metrics=dsl.Metrics, curves=dsl.HTML, checkpoint=dsl.Model)
    out = pretrain.python_func(
        **PRETRAIN_ARGUMENTS, work_dir=work_dir, launcher="pytorchjob",
        job_options={"use_gpus": False, "hf_token_secret": "team-hf"},
        job_defaults={"image": "registry.test/luke-training:9", "s3_secret": "team-s3",
                      "hf_token_secret": "huggingface-token"},
        s3_endpoint="http://seaweedfs.kubeflow:8333", **arts,
    )  # fmt: skip
    assert out == luke_run
    (job,) = fake.created
    pod = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["AWS_ENDPOINT_URL"] == "http://seaweedfs.kubeflow:8333"
    assert env["AWS_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "team-s3", "key": "accesskey"}}
    assert env["HF_TOKEN"]["secretKeyRef"]["name"] == "team-hf"  # job_options win
    assert container["image"] == "registry.test/luke-training:9"
    command = " ".join(container.get("command", []) + container.get("args", []))
    assert f"--output-dir {luke_run}" in command
    assert "--dataset-dir s3://bucket/run/dataset/en" in command
    # the preset filled what the pipeline left empty
    assert "--deepspeed-config-file luke-base-stage2 --bert-model-name roberta-base" in command
    assert "--entity-emb-size 256" in command and "--subword-masking" not in command
    assert fake.deleted  # the launcher cleans up
    assert arts["metrics"].metadata["final_loss"] == 3.5
    assert arts["metrics"].metadata["final_masked_entity_accuracy"] == 0.5
    assert "<polyline" in open(arts["curves"].path).read()
    assert pointer(arts["checkpoint"])["latest"].endswith("epoch1")


def test_an_unknown_launcher_is_refused(tmp_path):
    arts = outputs(tmp_path, metrics=dsl.Metrics, curves=dsl.HTML, checkpoint=dsl.Model)
    with pytest.raises(LukeError, match="launcher must be 'local' or 'pytorchjob', not 'ssh'"):
        pretrain.python_func(**PRETRAIN_ARGUMENTS, work_dir=str(tmp_path / "work"),
                             launcher="ssh", job_options={}, job_defaults={}, s3_endpoint="",
                             **arts)  # fmt: skip
    assert not os.path.exists(arts["curves"].path)


def test_curves_html():
    rows = [
        {"step": 10, "loss": 4.0, "masked_lm_accuracy": 0.1, "lr": 1e-3},
        {"step": 20, "loss": 3.0, "masked_lm_accuracy": 0.3, "lr": 5e-4},
    ]
    page = curves_html(rows, "LUKE <tiny> & co")
    assert "<title>LUKE &lt;tiny&gt; &amp; co</title>" in page
    assert page.count("<polyline") == 3  # loss, word accuracy, lr
    assert "masked entity accuracy: no data" in page
    assert "loss (masked words + masked entities): last 3" in page
    assert "<script" not in page  # the UI shows it in a sandbox without scripts
    # the loss curve goes down: its second point is lower on the page (larger y)
    points = re.search(r"points='([^']+)'", page).group(1).split()
    assert float(points[1].split(",")[1]) > float(points[0].split(",")[1])


def test_metrics_and_pointers(tmp_path):
    arts = outputs(tmp_path, metrics=dsl.Metrics, pointer=dsl.Artifact)
    support.log_metrics(arts["metrics"], {"pages": 3, "share": 0.123456789, "done": True,
                                          "name": "x"}, prefix="a_")  # fmt: skip
    assert arts["metrics"].metadata == {"a_pages": 3.0, "a_share": 0.123457}
    support.write_pointer(arts["pointer"], "s3://b/x.db", "dump_db", pages=3, nested={"a": 1})
    assert pointer(arts["pointer"]) == {"uri": "s3://b/x.db", "kind": "dump_db", "pages": 3,
                                        "nested": {"a": 1}}  # fmt: skip
    assert arts["pointer"].metadata == {"uri": "s3://b/x.db", "kind": "dump_db", "pages": 3}
    assert (
        support.markdown_table(["a", "b"], [[1, "x|y"]]) == "| a | b |\n|---|---|\n| 1 | x\\|y |\n"
    )
