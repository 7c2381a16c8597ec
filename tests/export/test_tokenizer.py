"""The exported tokenizers, always loaded the way users load them (`from_pretrained` on the
folder): the original files derived from tokenizer.json, the word ids kept, and the ids
our dataset builder produced for sentences with entity spans (real roberta-base and XLM-R
tokenizers of $LUKE_TEST_DATA)."""

from __future__ import annotations

import json
import os
import re
import shutil

import pyarrow as pa
import pytest

from luke_core.dataset.building.build import BuildDatasetOptions, build_dataset
from luke_core.dataset.format import load_metadata
from luke_core.dataset.tokenizers import load_tokenizer, save_tokenizer
from luke_core.dump_db import DumpDB
from luke_core.entity_vocab.vocab import EntityVocab
from luke_core.errors import LukeError
from luke_core.export.entities import export_entities
from luke_core.export.tokenizer import export_tokenizer
from luke_testing.dataset_inputs import paragraph, roberta_dir, write_dump_db, write_vocab
from luke_testing.dataset_inputs import xlmr_dir as xlmr_source_dir
from luke_testing.pretraining_data import TINY_TEXT

ENTITY_VOCAB = {"[PAD]": 0, "[UNK]": 1, "[MASK]": 2, "Tokyo": 3, "[MASK2]": 4}
LIMITS = {"model_max_length": 512}

PAGES = {
    "Tokyo": "[[Tokyo]] is the capital and largest city of [[Japan]] and home to many people.",
    "Paris": "[[Paris]] lies on the [[Seine]] river in northern [[France]] and has many museums.",
    "Albert Einstein": "[[Albert Einstein]] developed the theory of "
    "[[General relativity|relativity]] while he lived in [[Berlin]] for many years.",
    "Berlin": "[[Berlin]] is the largest city of [[Germany]] and its [[Tokio|biggest]] partner "
    "city is in [[Mount Fuji|Japan]] today.",
}
VOCAB = ["Tokyo", "Japan", "Paris", "Seine", "France", "Albert Einstein", "General relativity",
         "Berlin", "Germany"]  # fmt: skip
"""`Mount Fuji` is not in the vocabulary ([UNK] in the dataset); `Tokio` redirects to Tokyo."""


def export_to(source: str, out, tokenizer_class: str, entity_vocab=None) -> str:
    os.makedirs(out, exist_ok=True)
    export_tokenizer(
        source,
        str(out),
        tokenizer_class=tokenizer_class,
        entity_vocab=entity_vocab or ENTITY_VOCAB,
        **LIMITS,
    )
    return str(out)


def tokenizer_json_only(source: str, folder) -> str:
    """The tokenizer as transformers 5's save_pretrained leaves it: tokenizer.json only."""
    load_tokenizer(source).save_pretrained(str(folder))
    assert "vocab.json" not in os.listdir(folder)
    return str(folder)


def test_bpe_files_from_tokenizer_json_are_roberta_base_originals(tmp_path):
    source = tokenizer_json_only(roberta_dir(), tmp_path / "source")
    out = export_to(source, tmp_path / "out", "LukeTokenizer")
    original = roberta_dir()
    assert json.load(open(f"{out}/vocab.json")) == json.load(open(f"{original}/vocab.json"))
    with open(f"{out}/merges.txt", "rb") as a, open(f"{original}/merges.txt", "rb") as b:
        assert a.read() == b.read()


def test_tiny_bpe_tokenizer_trained_with_tokenizers(tmp_path, tiny_tokenizer_dir):
    from transformers import AutoTokenizer, LukeTokenizer

    out = export_to(tiny_tokenizer_dir, tmp_path / "out", "LukeTokenizer")
    source = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    exported = LukeTokenizer.from_pretrained(out)
    model = json.load(open(f"{tiny_tokenizer_dir}/tokenizer.json"))["model"]
    assert json.load(open(f"{out}/vocab.json")) == model["vocab"]
    merges = open(f"{out}/merges.txt", encoding="utf-8").read().splitlines()
    assert merges[0].startswith("#version") and merges[1:] == [" ".join(m) for m in model["merges"]]
    for text in [TINY_TEXT, "Kawaguchi's fox, 3,776 metres!", "  two  spaces"]:
        ids = source(text, add_special_tokens=False)["input_ids"]
        assert exported(text, add_special_tokens=False)["input_ids"] == ids
    assert exported.convert_tokens_to_ids(["<ent>", "<ent2>"]) == [len(source), len(source) + 1]


def test_exported_luke_tokenizer(tmp_path):
    from transformers import LukeTokenizer

    out = export_to(roberta_dir(), tmp_path / "out", "LukeTokenizer")
    assert {"vocab.json", "merges.txt", "entity_vocab.json", "tokenizer.json"} <= set(
        os.listdir(out)
    )
    tokenizer = LukeTokenizer.from_pretrained(out)
    assert tokenizer.convert_tokens_to_ids(["<ent>", "<ent2>"]) == [50265, 50266]
    assert tokenizer.entity_vocab == ENTITY_VOCAB
    # the published defaults, whatever the pretraining's
    assert tokenizer.max_entity_length == 32 and tokenizer.max_mention_length == 30
    config = json.load(open(f"{out}/tokenizer_config.json"))
    assert config["tokenizer_class"] == "LukeTokenizer"
    assert "entity_vocab" not in config  # entity_vocab.json holds it
    encoding = tokenizer("Tokyo is big.", entity_spans=[(0, 5)], entities=["Tokyo"])
    assert encoding["entity_ids"] == [3]
    assert encoding["input_ids"][0] == 0 and encoding["input_ids"][-1] == 2


@pytest.mark.slow
def test_exported_mluke_tokenizer(tmp_path):
    """MLukeTokenizer from the folder numbers words as XLM-R does (the offset transformers 5
    loses when it builds MLukeTokenizer from the SentencePiece file alone)."""
    from transformers import AutoTokenizer, MLukeTokenizer

    source = str(tmp_path / "source")
    save_tokenizer(load_tokenizer(xlmr_source_dir()), source)  # as the dataset builder does
    mapping = {"[PAD]": 0, "[UNK]": 1, "[MASK]": 2, "en:Tokyo": 3, "ja:東京": 3, "[MASK2]": 4}
    out = export_to(source, tmp_path / "out", "MLukeTokenizer", mapping)
    spm = "sentencepiece.bpe.model"
    assert open(f"{out}/{spm}", "rb").read() == open(f"{xlmr_source_dir()}/{spm}", "rb").read()
    tokenizer = MLukeTokenizer.from_pretrained(out)
    xlmr = AutoTokenizer.from_pretrained(source)
    for text in [
        "Tokyo is the capital of Japan.",
        "東京は日本の首都です。",
        "Die Straße ist lang.",
    ]:
        assert tokenizer(text)["input_ids"] == xlmr(text)["input_ids"]
    assert tokenizer.convert_tokens_to_ids(["<mask>", "@", "#"]) == [250001, 981, 4904]
    assert tokenizer.convert_tokens_to_ids(
        [tokenizer.entity_1_token, tokenizer.entity_2_token]
    ) == [
        250002,
        250003,
    ]
    encoding = tokenizer("東京 is big.", entity_spans=[(0, 2)], entities=["ja:東京"])
    assert encoding["entity_ids"] == [3]
    assert tokenizer.max_entity_length == 32 and tokenizer.max_mention_length == 30


def published_luke_base(folder, entity_vocab: dict[str, int]) -> str:
    """A folder shaped as studio-ousia/luke-base ships its tokenizer (transformers 4 wrote
    it): roberta-base's vocab.json and merges.txt, entity_vocab.json, added_tokens.json,
    special_tokens_map.json and tokenizer_config.json with the published fields."""
    os.makedirs(folder)
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(roberta_dir(), name), os.path.join(folder, name))

    def token(content: str, lstrip: bool = False) -> dict:
        return {"__type": "AddedToken", "content": content, "lstrip": lstrip,
                "normalized": True, "rstrip": False, "single_word": False}  # fmt: skip

    entity_tokens = [token("<ent>"), token("<ent2>")]
    files = {
        "entity_vocab.json": entity_vocab,
        "added_tokens.json": {"<ent>": 50265, "<ent2>": 50266},
        "special_tokens_map.json": {
            "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
            "pad_token": "<pad>", "cls_token": "<s>", "mask_token": token("<mask>", True),
            "additional_special_tokens": entity_tokens,
        },
        "tokenizer_config.json": {
            "add_prefix_space": False, "additional_special_tokens": entity_tokens,
            "bos_token": token("<s>"), "cls_token": token("<s>"), "eos_token": token("</s>"),
            "sep_token": token("</s>"), "unk_token": token("<unk>"), "pad_token": token("<pad>"),
            "mask_token": token("<mask>", True), "errors": "replace", "task": None,
            "entity_token_1": "<ent>", "entity_token_2": "<ent2>", "entity_unk_token": "[UNK]",
            "entity_pad_token": "[PAD]", "entity_mask_token": "[MASK]",
            "entity_mask2_token": "[MASK2]", "max_entity_length": 32, "max_mention_length": 30,
            "model_max_length": 512, "tokenizer_class": "LukeTokenizer",
        },
    }  # fmt: skip
    for name, content in files.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            json.dump(content, f)
    return str(folder)


def outcome(tokenizer, args, kwargs) -> dict | str:
    """The encoding, or the error: transformers 5's LukeTokenizer fails on every
    `truncation=True` (it calls a `truncate_sequences` it lacks), whatever the files."""
    try:
        return dict(tokenizer(*args, **kwargs))
    except AttributeError as exc:
        return f"AttributeError: {exc}"


def word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"[A-Z][a-z]+", text)]


def test_tokenises_as_the_published_luke_base_files(tmp_path):
    """Our folder and one shaped as studio-ousia/luke-base, both loaded with
    `LukeTokenizer.from_pretrained`, give the same encodings: defaults (entity padding and
    truncation at 32, mentions of 30 tokens), special words, the task formats."""
    from transformers import LukeTokenizer

    titles = [f"Entity {i}" for i in range(40)]
    mapping = {"[PAD]": 0, "[UNK]": 1, "[MASK]": 2}
    mapping |= {title: i + 3 for i, title in enumerate(titles)} | {"[MASK2]": 43}
    published = LukeTokenizer.from_pretrained(published_luke_base(tmp_path / "ref", mapping))
    ours = LukeTokenizer.from_pretrained(
        export_to(roberta_dir(), tmp_path / "ours", "LukeTokenizer", mapping)
    )
    assert len(ours) == len(published) == 50_271  # 50,265 + <ent> <ent2> + 4 entity tokens
    assert ours.get_vocab() == published.get_vocab()
    assert ours.entity_vocab == published.entity_vocab == mapping
    assert (ours.max_entity_length, ours.max_mention_length) == (32, 30)

    text = "Tokyo is the capital of Japan and Kyoto was the capital before Tokyo."
    many = " ".join(f"Word{chr(97 + i % 26)} Name" for i in range(40)) + " <mask> [MASK]."
    long_mention = "A " + " ".join(["Longword"] * 40) + " ends here."
    calls = [
        ((text,), {"entity_spans": word_spans(text), "entities": titles[:4]}),
        ((text,), {"entity_spans": word_spans(text)}),  # [MASK] entities
        ((text,), {"entity_spans": word_spans(text), "padding": "max_length", "max_length": 48}),
        ((many,), {"entity_spans": word_spans(many)}),  # 40 entities: 32 kept by default
        ((many,), {"entity_spans": word_spans(many), "padding": True, "truncation": True,
                   "max_length": 24, "max_entity_length": 8}),
        ((long_mention,), {"entity_spans": [(2, len(long_mention) - 11)]}),  # > 30 tokens
        (([text, many],), {"entity_spans": [word_spans(text), word_spans(many)],
                           "padding": True}),
        ((text,), {"entity_spans": [(0, 5), (24, 29)], "task": "entity_pair_classification"}),
        ((text,), {"entity_spans": word_spans(text), "task": "entity_span_classification"}),
    ]  # fmt: skip
    for args, kwargs in calls:
        assert outcome(ours, args, kwargs) == outcome(published, args, kwargs), kwargs
    padded = published(text, entity_spans=word_spans(text), padding="max_length", max_length=48)
    assert padded["entity_ids"][4:] == [0] * 28  # padded to 32 with [PAD]
    # as the model card loads it
    encodings = []
    for name in ("ours", "ref"):
        reloaded = LukeTokenizer.from_pretrained(str(tmp_path / name), add_prefix_space=True)
        encodings.append(dict(reloaded(text, entity_spans=word_spans(text))))
        assert encodings[-1]["input_ids"][1] == reloaded.convert_tokens_to_ids("ĠTokyo")
    assert encodings[0] == encodings[1]


def test_mluke_needs_the_sentencepiece_model(tmp_path):
    source = tokenizer_json_only(xlmr_source_dir(), tmp_path / "source")
    with pytest.raises(LukeError, match=r"no sentencepiece\.bpe\.model; MLukeTokenizer needs"):
        export_to(source, tmp_path / "out", "MLukeTokenizer")


def read_instances(dataset: str) -> list[dict]:
    rows = []
    for shard in load_metadata(dataset).shards:
        with pa.memory_map(os.path.join(dataset, shard.name)) as source:
            rows.extend(pa.ipc.open_file(source).read_all().to_pylist())
    return rows


def built_dataset(tmp_path, tokenizer: str, language: str) -> str:
    db = write_dump_db(str(tmp_path / "dump.db"), {t: [m] for t, m in PAGES.items()},
                       redirects={"Tokio": "Tokyo"}, language=language)  # fmt: skip
    vocab = write_vocab(str(tmp_path / "vocab.jsonl"), VOCAB, language=language)
    out = str(tmp_path / "dataset")
    options = BuildDatasetOptions(
        sentence_splitter="en",
        include_unk_entities=True,
        min_sentence_length=3,
        processes=1,
        progress=False,
    )
    build_dataset(db, tokenizer, vocab, out, options)
    return out


@pytest.mark.parametrize(
    ("tokenizer_class", "source", "language"),
    [
        ("LukeTokenizer", roberta_dir, None),
        pytest.param("MLukeTokenizer", xlmr_source_dir, "en", marks=pytest.mark.slow),
    ],
)
def test_exported_tokenizer_reproduces_the_dataset_builder(
    tmp_path, tokenizer_class, source, language
):
    """Sentences with entity spans: the word ids, mention positions and entity ids that the
    dataset holds come out of the exported tokenizer given the text and the link targets."""
    import transformers

    dataset = built_dataset(tmp_path, source(), language)
    vocab = EntityVocab.load(os.path.join(dataset, "entity_vocab.jsonl"))
    multilingual = tokenizer_class == "MLukeTokenizer"
    entities = export_entities(vocab, multilingual=multilingual, language=language, lite=False)
    out = export_to(
        os.path.join(dataset, "tokenizer"), tmp_path / "out", tokenizer_class, entities.mapping
    )
    # RoBERTa words after a space start with "Ġ": the pretraining text began every sentence so
    load = {"add_prefix_space": True} if tokenizer_class == "LukeTokenizer" else {}
    tokenizer = getattr(transformers, tokenizer_class).from_pretrained(out, **load)
    instances = {row["page_id"]: row for row in read_instances(dataset)}
    assert len(instances) == len(PAGES)
    with DumpDB(str(tmp_path / "dump.db")) as db:
        for title, markup in PAGES.items():
            text = paragraph(markup)
            spans = [(link.start, link.end) for link in text.links]
            names = [db.resolve_redirect(link.title) for link in text.links]
            keys = [f"{language}:{name}" if multilingual else name for name in names]
            encoding = tokenizer(text.text, entity_spans=spans, entities=keys)
            row = instances[vocab.get_id(title, language)]
            assert encoding["input_ids"][1:-1] == row["word_ids"], title
            assert encoding["entity_ids"] == row["entity_ids"], title
            starts = [positions[0] - 1 for positions in encoding["entity_position_ids"]]
            ends = [
                max(p for p in positions if p != -1)
                for positions in encoding["entity_position_ids"]
            ]
            assert (starts, ends) == (row["entity_starts"], row["entity_ends"]), title
    assert 1 in instances[vocab.get_id("Berlin", language)]["entity_ids"]  # Mount Fuji: [UNK]


def test_the_run_tokenizer_folder_from_s3(s3, tmp_path, tiny_tokenizer_dir):
    from transformers import LukeTokenizer

    from luke_core import storage

    storage.upload_dir(tiny_tokenizer_dir, f"{s3}/run/tokenizer")
    out = export_to(f"{s3}/run/tokenizer", tmp_path / "out", "LukeTokenizer")
    assert LukeTokenizer.from_pretrained(out).entity_vocab == ENTITY_VOCAB
    shutil.rmtree(out)
