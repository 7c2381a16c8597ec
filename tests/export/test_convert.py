"""`export_huggingface` on a run with random, non-trivial weights: the folder, the weights it
adds (checked tensor by tensor), and parity with our model through transformers'
LukeForMaskedLM and LukeModel loaded with from_pretrained."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

from luke_core.entity_vocab.vocab import EntityVocab
from luke_core.export.convert import ExportOptions, export_huggingface
from luke_testing.export_checks import hf_outputs, load_masked_lm, make_batch, our_logits

ENTITIES = 50
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def vocab_size(tiny_config) -> int:
    return tiny_config.vocab_size


def test_folder_layout_and_config(exported, vocab_size):
    assert sorted(os.listdir(exported)) == [
        "README.md",
        "config.json",
        "entity_vocab.json",
        "luke_export.json",
        "merges.txt",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
    ]
    config = json.load(open(os.path.join(exported, "config.json")))
    assert config["model_type"] == "luke"
    assert config["architectures"] == ["LukeForMaskedLM"]
    # <ent>, <ent2>, and [UNK] [PAD] [MASK] [MASK2] that transformers 5 also makes words
    assert config["vocab_size"] == vocab_size + 6 == len(AutoTokenizer.from_pretrained(exported))
    assert config["entity_vocab_size"] == ENTITIES + 1  # [MASK2]
    assert config["use_entity_aware_attention"] is True
    assert config["entity_emb_size"] == 16
    provenance = json.load(open(os.path.join(exported, "luke_export.json")))
    assert provenance["tag"] == "epoch1" and provenance["step"] == 10


def test_entity_vocab_json(exported, luke_run):
    mapping = json.load(open(os.path.join(exported, "entity_vocab.json"), encoding="utf-8"))
    vocab = EntityVocab.load(os.path.join(luke_run, "entity_vocab.jsonl"))
    assert mapping.pop("[MASK2]") == ENTITIES
    assert mapping == {entry.title: entry.id for entry in vocab}  # plain titles, no "en:"
    assert mapping["[PAD]"] == 0 and mapping["[MASK]"] == 2 and mapping["Entity 7"] == 7


def test_added_weights_are_copies(exported, tiny_model, vocab_size):
    """<ent>/<ent2> rows = "@"/"#" rows (embeddings, MLM decoder and bias), [MASK2] = [MASK]
    (entity row and bias), each layer's entity-aware queries = its query; all other
    tensors exactly the checkpoint's."""
    from transformers import LukeTokenizer

    saved = load_file(os.path.join(exported, "model.safetensors"))
    ours = tiny_model.state_dict()
    tokenizer = LukeTokenizer.from_pretrained(exported)
    ent, ent2, at, hash_ = tokenizer.convert_tokens_to_ids(["<ent>", "<ent2>", "@", "#"])
    assert (ent, ent2) == (vocab_size, vocab_size + 1)
    # the file keeps one of each tied pair: lm_head.decoder.bias (= lm_head.bias)
    for name in (
        "luke.embeddings.word_embeddings.weight",
        "lm_head.decoder.weight",
        "lm_head.decoder.bias",
    ):
        table = saved[name]
        assert torch.equal(table[:vocab_size], ours[name])
        assert torch.equal(table[ent], ours[name][at]) and torch.equal(
            table[ent2], ours[name][hash_]
        )
        # the entity special tokens as words: rows of the words of the same role
        for token, role in (("[UNK]", "<unk>"), ("[PAD]", "<pad>"), ("[MASK]", "<mask>")):
            new_id, source = tokenizer.convert_tokens_to_ids([token, role])
            assert new_id >= vocab_size + 2 and torch.equal(table[new_id], ours[name][source])
    for name in ("luke.entity_embeddings.entity_embeddings.weight", "entity_predictions.bias"):
        assert torch.equal(saved[name][:ENTITIES], ours[name])
        assert torch.equal(saved[name][ENTITIES], ours[name][2])  # [MASK2] = [MASK]
    for layer in range(2):
        prefix = f"luke.encoder.layer.{layer}.attention.self."
        for part in ("weight", "bias"):
            for query in ("w2e_query", "e2w_query", "e2e_query"):
                assert torch.equal(saved[f"{prefix}{query}.{part}"], ours[f"{prefix}query.{part}"])
    changed = {
        "luke.embeddings.word_embeddings.weight",
        "lm_head.decoder.weight",
        "lm_head.bias",
        "lm_head.decoder.bias",
        "luke.entity_embeddings.entity_embeddings.weight",
        "entity_predictions.bias",
        "entity_predictions.decoder.weight",
    }
    for name, tensor in ours.items():
        if name not in changed:
            assert torch.equal(saved[name], tensor), name


def test_masked_lm_parity_without_entity_aware_attention(exported, tiny_model, vocab_size):
    """Same inputs, same word and entity logits (fp32, CPU), entity-aware attention off."""
    model = load_masked_lm(exported, use_entity_aware_attention=False)
    assert not model.config.use_entity_aware_attention
    for seed in range(3):
        batch = make_batch(vocab_size, ENTITIES, seed=seed)
        words, entities = our_logits(tiny_model, batch)
        out = hf_outputs(model, batch)
        real_words = batch["word_attention_mask"].bool()
        real_entities = batch["entity_attention_mask"].bool()
        word_diff = (out.logits[..., :vocab_size] - words)[real_words].abs().max().item()
        entity_diff = (out.entity_logits[..., :ENTITIES] - entities)[real_entities].abs().max()
        assert word_diff < TOLERANCE and entity_diff.item() < TOLERANCE
        assert words.abs().max() > 1.0  # non-trivial logits, not a vacuous comparison


def test_parity_in_float64_is_exact(exported, tiny_model, vocab_size):
    """In float64 the two models agree to rounding: the fp32 differences are the order of
    operations (fused attention against transformers' eager one), not the conversion."""
    import copy

    ours = copy.deepcopy(tiny_model).double()
    model = load_masked_lm(exported, use_entity_aware_attention=False).double()
    batch = make_batch(vocab_size, ENTITIES, seed=4)
    words, entities = our_logits(ours, batch)
    out = hf_outputs(model, batch)
    real = batch["word_attention_mask"].bool()
    assert (out.logits[..., :vocab_size] - words)[real].abs().max() < 1e-10
    real = batch["entity_attention_mask"].bool()
    assert (out.entity_logits[..., :ENTITIES] - entities)[real].abs().max() < 1e-10


def test_new_tokens_score_like_their_sources(exported, vocab_size):
    """The MLM head scores <ent> like "@" and <ent2> like "#"; [MASK2] like [MASK]."""
    from transformers import LukeTokenizer

    tokenizer = LukeTokenizer.from_pretrained(exported)
    at, hash_ = tokenizer.convert_tokens_to_ids(["@", "#"])
    out = hf_outputs(load_masked_lm(exported), make_batch(vocab_size, ENTITIES))
    torch.testing.assert_close(out.logits[..., vocab_size], out.logits[..., at])
    torch.testing.assert_close(out.logits[..., vocab_size + 1], out.logits[..., hash_])
    torch.testing.assert_close(out.entity_logits[..., ENTITIES], out.entity_logits[..., 2])


def test_entity_aware_attention_with_copied_queries_equals_standard_attention(exported, vocab_size):
    """With w2e/e2w/e2e copied from query, the four query blocks are one query: entity-aware
    attention computes the same scores as standard attention."""
    plain = load_masked_lm(exported, use_entity_aware_attention=False)
    aware = load_masked_lm(exported)  # the exported default: on
    assert aware.config.use_entity_aware_attention
    batch = make_batch(vocab_size, ENTITIES, seed=7)
    expected, got = hf_outputs(plain, batch), hf_outputs(aware, batch)
    torch.testing.assert_close(got.logits, expected.logits, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(got.entity_logits, expected.entity_logits, atol=TOLERANCE, rtol=0)
    # the check can fail: other entity-to-word queries change the outputs
    with torch.no_grad():
        aware.luke.encoder.layer[0].attention.self.e2w_query.weight.mul_(1.5)
    changed = hf_outputs(aware, batch)
    assert (changed.entity_logits - expected.entity_logits).abs().max() > 1e-3


def test_luke_model_gives_our_hidden_states(exported, tiny_model, vocab_size):
    from transformers import LukeModel

    model = LukeModel.from_pretrained(exported, use_entity_aware_attention=False).eval()
    batch = make_batch(vocab_size, ENTITIES, seed=3)
    with torch.no_grad():
        words, entities = tiny_model.luke(**batch)
        out = model(
            input_ids=batch["word_ids"],
            attention_mask=batch["word_attention_mask"],
            entity_ids=batch["entity_ids"],
            entity_attention_mask=batch["entity_attention_mask"],
            entity_position_ids=batch["entity_position_ids"],
        )
    real = batch["word_attention_mask"].bool()
    torch.testing.assert_close(out.last_hidden_state[real], words[real], atol=TOLERANCE, rtol=0)
    real = batch["entity_attention_mask"].bool()
    torch.testing.assert_close(
        out.entity_last_hidden_state[real], entities[real], atol=TOLERANCE, rtol=0
    )


def test_entity_aware_attention_off_by_option(luke_run, tmp_path, vocab_size):
    out = str(tmp_path / "plain")
    summary = export_huggingface(
        luke_run, out, ExportOptions(use_entity_aware_attention=False, progress=False)
    )
    assert not summary.use_entity_aware_attention
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["use_entity_aware_attention"] is False
    # the queries travel anyway: switching the flag on at load gets the copies
    saved = load_file(os.path.join(out, "model.safetensors"))
    assert "luke.encoder.layer.1.attention.self.e2e_query.bias" in saved
    default = load_masked_lm(out)
    assert not default.config.use_entity_aware_attention
    switched = load_masked_lm(out, use_entity_aware_attention=True)
    batch = make_batch(vocab_size, ENTITIES, seed=5)
    torch.testing.assert_close(
        hf_outputs(switched, batch).entity_logits,
        hf_outputs(default, batch).entity_logits,
        atol=TOLERANCE,
        rtol=0,
    )


def test_lite_export(luke_run, tmp_path, exported, vocab_size):
    """Only the special entities remain, in the vocabulary's order; with entities given as
    [MASK] (what a lite model reads) it computes what the full export computes."""
    out = str(tmp_path / "lite")
    summary = export_huggingface(
        luke_run, out, ExportOptions(remove_entity_embeddings=True, progress=False)
    )
    assert summary.lite and summary.entity_vocab_size == 4
    mapping = json.load(open(os.path.join(out, "entity_vocab.json")))
    assert mapping == {"[PAD]": 0, "[UNK]": 1, "[MASK]": 2, "[MASK2]": 3}
    assert json.load(open(os.path.join(out, "config.json")))["entity_vocab_size"] == 4
    lite, full = load_masked_lm(out), load_masked_lm(exported)
    batch = make_batch(vocab_size, ENTITIES, seed=2)
    batch["entity_ids"] = torch.where(batch["entity_attention_mask"].bool(), 2, 0)
    got, expected = hf_outputs(lite, batch), hf_outputs(full, batch)
    torch.testing.assert_close(got.logits, expected.logits, atol=TOLERANCE, rtol=0)
    special = [0, 1, 2, ENTITIES]  # [PAD] [UNK] [MASK] [MASK2] of the full export
    torch.testing.assert_close(
        got.entity_logits, expected.entity_logits[..., special], atol=TOLERANCE, rtol=0
    )
    assert os.path.getsize(os.path.join(out, "model.safetensors")) < os.path.getsize(
        os.path.join(exported, "model.safetensors")
    )


def test_lite_tokenizer_pads_with_the_models_padding_row(luke_run, tmp_path, exported):
    """From the folders as users load them: the lite tokenizer pads entities with the id
    the model treats as padding (`padding_idx`, no gradient: [PAD] at 0, not [MASK] as in
    Studio Ousia's lite models), the padding changes nothing, and words and entities given
    as [MASK] / [MASK2] are predicted as the full export predicts them."""
    from transformers import LukeTokenizer

    out = str(tmp_path / "lite")
    export_huggingface(luke_run, out, ExportOptions(remove_entity_embeddings=True, progress=False))
    text = "Tokyo is the <mask> of Japan, and Paris is the capital of France."
    spans = [(0, 5), (25, 30)]
    masks = ["[MASK]", "[MASK2]"]

    def encode(folder, **padding):
        tokenizer = LukeTokenizer.from_pretrained(folder)
        return tokenizer(text, entity_spans=spans, entities=masks, return_tensors="pt", **padding)

    lite_model, full_model = load_masked_lm(out), load_masked_lm(exported)
    padding_row = lite_model.luke.entity_embeddings.entity_embeddings.padding_idx
    padded = encode(out, padding="max_length", max_length=24)
    assert padding_row == 0 == LukeTokenizer.from_pretrained(out).entity_pad_token_id
    assert padded["entity_ids"][0].tolist() == [2, 3] + [padding_row] * 30
    assert padded["entity_attention_mask"][0].tolist() == [1, 1] + [0] * 30

    lite = lite_model(**padded)
    # through the embedding lookup only (the entity head's decoder is the same table)
    lite.logits.sum().backward()
    gradient = lite_model.luke.entity_embeddings.entity_embeddings.weight.grad
    assert not gradient[padding_row].any() and gradient[2].any() and gradient[3].any()

    with torch.no_grad():
        unpadded = lite_model(**encode(out))
        full = full_model(**encode(exported, padding="max_length", max_length=24))
    words = int(unpadded.logits.shape[1])
    real = slice(0, words)
    torch.testing.assert_close(lite.logits[0, real], unpadded.logits[0], atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(lite.logits.detach(), full.logits, atol=TOLERANCE, rtol=0)
    special = [0, 1, 2, ENTITIES]  # [PAD] [UNK] [MASK] [MASK2] of the full export
    torch.testing.assert_close(
        lite.entity_logits.detach()[0, :2],
        full.entity_logits[0, :2, special],
        atol=TOLERANCE,
        rtol=0,
    )
    torch.testing.assert_close(
        lite.entity_logits.detach()[0, :2], unpadded.entity_logits[0], atol=TOLERANCE, rtol=0
    )
    mask = padded["input_ids"][0].tolist().index(LukeTokenizer.from_pretrained(out).mask_token_id)
    assert lite.logits[0, mask].argmax() == full.logits[0, mask].argmax()


def test_summary_and_inspect(luke_run, tmp_path):
    from luke_core.inspect import InspectOptions, artifact_kind, describe

    out = str(tmp_path / "model")
    summary = export_huggingface(luke_run, out, ExportOptions(progress=False))
    assert summary.checkpoint == os.path.join(luke_run, "epoch1")
    assert (summary.step, summary.epoch, summary.tokenizer_class) == (10, 1, "LukeTokenizer")
    assert summary.files == sorted(os.listdir(out))
    assert summary.bytes == sum(os.path.getsize(os.path.join(out, f)) for f in summary.files)
    assert artifact_kind(out) == "huggingface_model"
    described = describe(out, InspectOptions())
    assert described["model"]["entity_vocab_size"] == ENTITIES + 1
    assert described["tokenizer_class"] == "LukeTokenizer"
    assert described["entity_vocab_entries"] == ENTITIES + 1
    assert described["weights"]["parameters"] == summary.parameters
    assert described["export"]["step"] == 10


def test_a_folder_with_another_config_is_not_ours(tmp_path):
    from luke_core.errors import LukeError
    from luke_core.inspect import artifact_kind

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(LukeError, match="without metadata.json"):
        artifact_kind(str(tmp_path))


@pytest.mark.slow
def test_checkpoint_and_output_on_s3(s3, luke_run, tiny_model, vocab_size, tmp_path):
    """Checkpoint, run files and output all on S3 (SeaweedFS)."""
    from luke_core import storage

    storage.upload_dir(luke_run, f"{s3}/runs/tiny")
    out = f"{s3}/models/luke-tiny"
    summary = export_huggingface(f"{s3}/runs/tiny/epoch1", out, ExportOptions(progress=False))
    assert summary.step == 10
    local = str(tmp_path / "downloaded")
    storage.download_dir(out, local)
    assert sorted(os.listdir(local)) == summary.files
    model = load_masked_lm(local, use_entity_aware_attention=False)
    batch = make_batch(vocab_size, ENTITIES, seed=11)
    words, _ = our_logits(tiny_model, batch)
    real = batch["word_attention_mask"].bool()
    diff = (hf_outputs(model, batch).logits[..., :vocab_size] - words)[real].abs().max()
    assert diff.item() < TOLERANCE
