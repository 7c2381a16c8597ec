"""The LUKE model on hand-made batches, against independent computations: transformers'
own RoBERTa and LukeForMaskedLM, and cross-entropy over gathered positions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from luke_core.errors import LukeError
from luke_core.model import IGNORE_INDEX, LukeForPretraining, LukeModelConfig
from luke_core.model.base import load_base_config
from luke_core.model.config import describe_mismatch
from luke_testing.tiny_model import save_tiny_base_model

VOCAB, ENTITIES, MENTION = 100, 20, 4


@pytest.fixture(scope="session")
def base_dir(tmp_path_factory) -> str:
    return save_tiny_base_model(
        str(tmp_path_factory.mktemp("tiny-base")), vocab_size=VOCAB, max_seq_length=30
    )


@pytest.fixture(scope="session")
def config(base_dir) -> LukeModelConfig:
    return LukeModelConfig(
        bert_model_name=base_dir,
        base_config=load_base_config(base_dir).to_dict(),
        entity_vocab_size=ENTITIES,
        entity_emb_size=16,
    )


@pytest.fixture
def model(config) -> LukeForPretraining:
    torch.manual_seed(0)
    return LukeForPretraining.from_base(config).eval()


def make_batch(batch_size: int = 2, words: int = 12, entities: int = 3, seed: int = 1) -> dict:
    """Two sequences: the second one shorter (padding) and with one entity less."""
    generator = torch.Generator().manual_seed(seed)
    word_ids = torch.randint(3, VOCAB, (batch_size, words), generator=generator)
    word_ids[:, 0], word_ids[:, -1] = 0, 2
    word_mask = torch.ones(batch_size, words, dtype=torch.long)
    word_ids[1, -3:], word_mask[1, -3:] = 1, 0  # padding id 1
    entity_ids = torch.randint(3, ENTITIES, (batch_size, entities), generator=generator)
    entity_mask = torch.ones(batch_size, entities, dtype=torch.long)
    entity_ids[1, -1], entity_mask[1, -1] = 0, 0
    positions = torch.full((batch_size, entities, MENTION), -1)
    for b in range(batch_size):
        for e in range(entities):
            start = 1 + 2 * e
            positions[b, e, : 1 + e % 2] = torch.arange(start, start + 1 + e % 2)
    positions[1, -1] = -1
    lm_labels = torch.full((batch_size, words), IGNORE_INDEX)
    lm_labels[0, [2, 5]] = word_ids[0, [2, 5]]
    lm_labels[1, 3] = word_ids[1, 3]
    entity_labels = torch.full((batch_size, entities), IGNORE_INDEX)
    entity_labels[0, 1] = entity_ids[0, 1]
    entity_labels[1, 0] = entity_ids[1, 0]
    return {
        "word_ids": word_ids,
        "word_segment_ids": torch.zeros_like(word_ids),
        "word_attention_mask": word_mask,
        "entity_ids": entity_ids,
        "entity_position_ids": positions,
        "entity_segment_ids": torch.zeros_like(entity_ids),
        "entity_attention_mask": entity_mask,
        "masked_lm_labels": lm_labels,
        "masked_entity_labels": entity_labels,
    }


def encode(model, batch):
    inputs = {k: v for k, v in batch.items() if not k.startswith("masked_")}
    return model.luke(**inputs)


def test_shapes(model, config):
    batch = make_batch()
    words, entities = encode(model, batch)
    assert words.shape == (2, 12, config.hidden_size)
    assert entities.shape == (2, 3, config.hidden_size)
    out = model(**batch)
    assert out.masked_lm_count.item() == 3
    assert out.masked_entity_count.item() == 2
    assert out.loss.shape == ()


def test_entities_change_the_word_outputs(model):
    batch = make_batch()
    words, _ = encode(model, batch)
    hidden = {**batch, "entity_attention_mask": torch.zeros_like(batch["entity_attention_mask"])}
    assert not torch.allclose(words[0], encode(model, hidden)[0][0], atol=1e-3)
    with torch.no_grad():  # entity vectors of a trained scale, not of the 0.02 init
        model.luke.entity_embeddings.entity_embeddings.weight.normal_()
        model.luke.entity_embeddings.entity_embedding_dense.weight.normal_()
    words, _ = encode(model, batch)
    # other entities (not the same ones permuted: near-uniform attention of a random model
    # would average them to almost the same vector)
    other = {**batch, "entity_ids": 3 + (batch["entity_ids"] + 5) % (ENTITIES - 3)}
    assert (words[0] - encode(model, other)[0][0]).abs().max() > 1e-3  # fp32 noise: 1e-6


def test_without_entities_words_are_roberta_outputs(model, base_dir):
    """Entities masked out of the attention: the word states are exactly what transformers'
    RoBERTa computes from the same checkpoint."""
    from transformers import AutoModel

    batch = make_batch()
    batch["entity_attention_mask"] = torch.zeros_like(batch["entity_attention_mask"])
    words, _ = encode(model, batch)
    roberta = AutoModel.from_pretrained(base_dir).eval()
    expected = roberta(
        input_ids=batch["word_ids"], attention_mask=batch["word_attention_mask"]
    ).last_hidden_state
    real = batch["word_attention_mask"].bool()
    torch.testing.assert_close(words[real], expected[real], atol=1e-5, rtol=1e-5)


def test_loss_is_cross_entropy_over_the_masked_positions(model):
    batch = make_batch()
    out = model(**batch)
    words, entities = encode(model, batch)
    lm_logits = model.lm_head(words)  # every position, then the masked ones picked
    entity_logits = model.entity_predictions(entities)
    lm_expected = F.cross_entropy(
        lm_logits.reshape(-1, VOCAB), batch["masked_lm_labels"].reshape(-1), ignore_index=-1
    )
    entity_expected = F.cross_entropy(
        entity_logits.reshape(-1, ENTITIES),
        batch["masked_entity_labels"].reshape(-1),
        ignore_index=-1,
    )
    torch.testing.assert_close(out.masked_lm_loss, lm_expected)
    torch.testing.assert_close(out.masked_entity_loss, entity_expected)
    torch.testing.assert_close(out.loss, lm_expected + entity_expected)
    lm_mask = batch["masked_lm_labels"] != -1
    correct = (lm_logits[lm_mask].argmax(-1) == batch["masked_lm_labels"][lm_mask]).sum()
    assert out.masked_lm_correct.item() == correct.item()


def test_heads_see_only_the_masked_positions(model):
    """The speed property: no head output for the unmasked words and entities."""
    seen = {}
    for name in ("lm_head", "entity_predictions"):
        getattr(model, name).register_forward_hook(
            lambda module, args, out, name=name: seen.__setitem__(name, tuple(out.shape))
        )
    model(**make_batch())
    assert seen == {"lm_head": (3, VOCAB), "entity_predictions": (2, ENTITIES)}


def test_a_batch_without_masked_entities_has_a_zero_entity_loss(model):
    batch = make_batch()
    batch["masked_entity_labels"] = torch.full_like(batch["masked_entity_labels"], -1)
    model.train()
    out = model(**batch)
    assert out.masked_entity_loss.item() == 0.0
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert model.entity_predictions.bias.grad is not None
    assert model.entity_predictions.bias.grad.abs().sum().item() == 0.0


def test_entity_position_is_the_mean_of_its_mention_tokens(model):
    embeddings = model.luke.entity_embeddings
    ids = torch.tensor([[5]])
    positions = torch.tensor([[[3, 4, 7, -1]]])
    got = embeddings(ids, positions, torch.zeros_like(ids))
    table = embeddings.position_embeddings.weight
    mean = (table[3] + table[4] + table[7]) / 3
    raw = embeddings.entity_embedding_dense(embeddings.entity_embeddings.weight[5])
    raw = raw + mean + embeddings.token_type_embeddings.weight[0]
    torch.testing.assert_close(got[0, 0], embeddings.LayerNorm(raw))


def test_weights_come_from_the_base_checkpoint(model, base_dir):
    from safetensors.torch import load_file

    stored = load_file(f"{base_dir}/model.safetensors")
    ours = model.state_dict()
    for key, value in stored.items():
        mapped = "luke." + key.removeprefix("roberta.") if key.startswith("roberta.") else key
        assert torch.equal(ours[mapped], value), key
    assert model.lm_head.decoder.weight is model.luke.embeddings.word_embeddings.weight
    entity_table = model.luke.entity_embeddings.entity_embeddings.weight
    assert model.entity_predictions.decoder.weight is entity_table


def test_new_parameters_are_initialised_as_the_reference(config):
    torch.manual_seed(0)
    model = LukeForPretraining.from_base(config)
    entity = model.luke.entity_embeddings
    for table in (entity.entity_embeddings.weight[1:], entity.position_embeddings.weight):
        assert abs(table.std().item() - 0.02) < 0.004
        assert abs(table.mean().item()) < 0.004
    assert torch.count_nonzero(entity.entity_embeddings.weight[0]) == 0
    assert torch.equal(entity.LayerNorm.weight, torch.ones_like(entity.LayerNorm.weight))
    assert torch.count_nonzero(entity.LayerNorm.bias) == 0
    assert torch.count_nonzero(model.entity_predictions.bias) == 0
    assert torch.count_nonzero(model.entity_predictions.transform.dense.bias) == 0
    assert model.training and all(m.training for m in model.modules())


def test_parameter_names_are_those_of_transformers_luke_for_masked_lm(model, config):
    """The export to LukeForMaskedLM is a key map: same keys, same shapes."""
    from transformers import LukeConfig, LukeForMaskedLM

    base = config.base_config
    luke_config = LukeConfig(
        vocab_size=base["vocab_size"],
        entity_vocab_size=ENTITIES,
        hidden_size=base["hidden_size"],
        entity_emb_size=config.entity_emb_size,
        num_hidden_layers=base["num_hidden_layers"],
        num_attention_heads=base["num_attention_heads"],
        intermediate_size=base["intermediate_size"],
        max_position_embeddings=base["max_position_embeddings"],
        type_vocab_size=base["type_vocab_size"],
        use_entity_aware_attention=False,
    )
    theirs = {k: v.shape for k, v in LukeForMaskedLM(luke_config).state_dict().items()}
    ours = {k: v.shape for k, v in model.state_dict().items()}
    assert ours == theirs


def test_a_rebuilt_model_has_the_same_structure(model, config):
    rebuilt = LukeForPretraining.from_config(config)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }
    rebuilt.load_state_dict(model.state_dict())
    batch = make_batch()
    torch.testing.assert_close(rebuilt.eval()(**batch).loss, model(**batch).loss)


def test_config_round_trip_and_mismatch(config):
    again = LukeModelConfig.from_json(config.to_json(), "memory")
    assert again == config
    other = LukeModelConfig(**{**config.to_json(), "entity_emb_size": 8})
    assert "entity_emb_size 8 (this run: 16)" in describe_mismatch(config, other)
    with pytest.raises(LukeError, match="not a LUKE model config"):
        LukeModelConfig.from_json({"bert_model_name": "x"}, "memory")


def test_unsupported_base_model(tmp_path):
    from transformers import BertConfig, BertForMaskedLM

    BertForMaskedLM(
        BertConfig(
            vocab_size=50,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
        )
    ).save_pretrained(tmp_path)
    with pytest.raises(LukeError, match="'bert' model"):
        load_base_config(str(tmp_path))
    with pytest.raises(LukeError, match="cannot load the base model's config"):
        load_base_config(str(tmp_path / "missing"))


def test_entity_table_gradient_is_dense_and_complete(model):
    """The table's gradient (its lookup's, sparse, plus its tied decoder's, dense) equals the
    two computed apart from captured activations: a dense tensor, as optimizers need."""
    captured = {}

    def keep_grad(name):
        return lambda grad: captured.__setitem__(name, grad)

    def on_dense(module, args, out):  # input: the looked-up rows (B, E, D)
        args[0].register_hook(keep_grad("rows"))

    def on_decoder(module, args, out):  # input (Ne, D), output logits (Ne, Ve)
        captured["head_input"] = args[0].detach()
        out.register_hook(keep_grad("logits"))

    entity = model.luke.entity_embeddings
    entity.entity_embedding_dense.register_forward_hook(on_dense)
    model.entity_predictions.decoder.register_forward_hook(on_decoder)
    batch = make_batch()
    model(**batch).loss.backward()
    table = entity.entity_embeddings.weight
    assert not table.grad.is_sparse
    expected = captured["logits"].T @ captured["head_input"]  # the decoder's part
    rows = captured["rows"].reshape(-1, table.size(1))
    ids = batch["entity_ids"].reshape(-1)
    expected = expected.index_add(0, ids[ids != 0], rows[ids != 0])  # the lookup's part
    torch.testing.assert_close(table.grad, expected)
