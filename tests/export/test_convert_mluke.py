"""An mLUKE export: a tiny XLM-R-based model with the real XLM-R tokenizer (250,002 words) and a
multilingual entity vocabulary, to MLukeTokenizer and LukeForMaskedLM."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import load_file

from luke_core.dataset.tokenizers import load_tokenizer, save_tokenizer
from luke_core.entity_vocab.vocab import EntityEntry, EntityVocab, special_entries
from luke_core.errors import LukeError
from luke_core.export.convert import ExportOptions, export_huggingface
from luke_testing.dataset_inputs import xlmr_dir
from luke_testing.export_checks import hf_outputs, load_masked_lm, make_batch, our_logits
from luke_testing.pretraining_run import random_model, tiny_model_config, write_pretraining_run

pytestmark = pytest.mark.slow
WORDS = 250002
ENTRIES = [
    EntityEntry(3, (("Tokyo", "en"), ("東京", "ja")), 5),
    EntityEntry(4, (("Japan", "en"), ("日本", "ja")), 4),
    EntityEntry(5, (("Kyoto", "en"),), 1),
]


@pytest.fixture(scope="module")
def xlmr_tokenizer_dir(tmp_path_factory) -> str:
    """XLM-R's tokenizer folder as the dataset builder leaves it (with the SentencePiece file)."""
    folder = str(tmp_path_factory.mktemp("xlmr-tokenizer"))
    save_tokenizer(load_tokenizer(xlmr_dir()), folder)
    return folder


@pytest.fixture(scope="module")
def mluke_model():
    config = tiny_model_config(
        model_type="xlm-roberta",
        vocab_size=WORDS,
        hidden_size=16,
        entity_vocab_size=6,
        entity_emb_size=8,
        bert_model_name="tiny-xlm-roberta",
    )
    return random_model(config, seed=2)


def write_run(folder: str, model, tokenizer_dir: str, entries, language=None) -> str:
    vocab = EntityVocab(special_entries(["en", "ja"] if language is None else [None]) + entries)
    write_pretraining_run(
        folder,
        model,
        entity_vocab=vocab,
        tokenizer_dir=tokenizer_dir,
        tokenizer_class="XLMRobertaTokenizer",
        language=language,
    )
    return folder


@pytest.fixture(scope="module")
def mluke_export(tmp_path_factory, mluke_model, xlmr_tokenizer_dir) -> str:
    root = tmp_path_factory.mktemp("mluke")
    run = write_run(str(root / "run"), mluke_model, xlmr_tokenizer_dir, ENTRIES)
    out = str(root / "mluke-tiny")
    export_huggingface(run, out, ExportOptions(progress=False))
    return out


def test_mluke_folder(mluke_export):
    from transformers import MLukeTokenizer

    assert "sentencepiece.bpe.model" in os.listdir(mluke_export)
    assert "vocab.json" not in os.listdir(mluke_export)
    config = json.load(open(os.path.join(mluke_export, "config.json")))
    assert config["entity_vocab_size"] == 7
    # every word id the tokenizer can give has a row: <ent>, <ent2> and what else it adds
    assert config["vocab_size"] == len(MLukeTokenizer.from_pretrained(mluke_export)) >= WORDS + 2
    mapping = json.load(open(os.path.join(mluke_export, "entity_vocab.json"), encoding="utf-8"))
    assert mapping == {"[PAD]": 0, "[UNK]": 1, "[MASK]": 2, "en:Tokyo": 3, "ja:東京": 3,
                       "en:Japan": 4, "ja:日本": 4, "en:Kyoto": 5, "[MASK2]": 6}  # fmt: skip
    tokenizer = MLukeTokenizer.from_pretrained(mluke_export)
    assert type(tokenizer).__name__ == "MLukeTokenizer"
    ent = tokenizer.convert_tokens_to_ids([tokenizer.entity_1_token, tokenizer.entity_2_token])
    assert ent == [WORDS, WORDS + 1]
    encoding = tokenizer(
        "東京 and Kyoto", entity_spans=[(0, 2), (7, 12)], entities=["ja:東京", "en:Kyoto"]
    )
    assert encoding["entity_ids"] == [3, 5]


def test_mluke_weights_and_parity(mluke_export, mluke_model):
    saved = load_file(os.path.join(mluke_export, "model.safetensors"))
    table = mluke_model.state_dict()["luke.embeddings.word_embeddings.weight"]
    assert torch.equal(saved["luke.embeddings.word_embeddings.weight"][WORDS], table[981])  # "@"
    assert torch.equal(saved["luke.embeddings.word_embeddings.weight"][WORDS + 1], table[4904])
    model = load_masked_lm(mluke_export, use_entity_aware_attention=False)
    batch = make_batch(WORDS, 6, seed=1)
    words, entities = our_logits(mluke_model, batch)
    out = hf_outputs(model, batch)
    real = batch["word_attention_mask"].bool()
    assert (out.logits[..., :WORDS] - words)[real].abs().max() < 1e-5
    real = batch["entity_attention_mask"].bool()
    assert (out.entity_logits[..., :6] - entities)[real].abs().max() < 1e-5


def test_a_vocabulary_without_languages_takes_the_runs(tmp_path, mluke_model, xlmr_tokenizer_dir):
    entries = [EntityEntry(e.id, ((e.entities[0][0], None),), e.count) for e in ENTRIES]
    run = write_run(str(tmp_path / "run"), mluke_model, xlmr_tokenizer_dir, entries, language="de")
    out = str(tmp_path / "out")
    export_huggingface(run, out, ExportOptions(progress=False))
    mapping = json.load(open(os.path.join(out, "entity_vocab.json")))
    assert mapping["de:Tokyo"] == 3 and "Tokyo" not in mapping
    metadata = json.load(open(os.path.join(run, "metadata.json")))
    metadata["language"] = None
    json.dump(metadata, open(os.path.join(run, "metadata.json"), "w"))
    with pytest.raises(LukeError, match="carry no language and the run's metadata names none"):
        export_huggingface(run, str(tmp_path / "out2"), ExportOptions(progress=False))


def test_plain_titles_of_a_multilingual_vocabulary(tmp_path, mluke_model, xlmr_tokenizer_dir):
    """LukeTokenizer keys entities by title alone: several languages cannot share that."""
    run = write_run(str(tmp_path / "run"), mluke_model, xlmr_tokenizer_dir, ENTRIES)
    options = ExportOptions(tokenizer_class="LukeTokenizer", progress=False)
    with pytest.raises(LukeError, match="2 languages cannot be keyed by plain titles"):
        export_huggingface(run, str(tmp_path / "out"), options)
    assert not os.path.exists(tmp_path / "out")
