"""What trains in each stage, by parameter name, and which parameters get weight decay."""

from __future__ import annotations

import pytest

from luke_core.model import LukeForPretraining, LukeModelConfig
from luke_core.model.base import load_base_config
from luke_core.training.parameters import parameter_groups, set_trainable

# Stage 1 of the reference: `entity_embeddings.*` and `entity_predictions.*` (the decoder of
# the entity head is the entity table itself, listed once under its first name)
STAGE_1 = {
    "luke.entity_embeddings.entity_embeddings.weight",
    "luke.entity_embeddings.entity_embedding_dense.weight",
    "luke.entity_embeddings.position_embeddings.weight",
    "luke.entity_embeddings.token_type_embeddings.weight",
    "luke.entity_embeddings.LayerNorm.weight",
    "luke.entity_embeddings.LayerNorm.bias",
    "entity_predictions.bias",
    "entity_predictions.transform.dense.weight",
    "entity_predictions.transform.dense.bias",
    "entity_predictions.transform.LayerNorm.weight",
    "entity_predictions.transform.LayerNorm.bias",
}


@pytest.fixture
def model(tiny_base_dir):
    config = LukeModelConfig(
        bert_model_name=tiny_base_dir,
        base_config=load_base_config(tiny_base_dir).to_dict(),
        entity_vocab_size=30,
        entity_emb_size=16,
    )
    return LukeForPretraining.from_base(config)


def test_stage_1_trains_exactly_the_entity_parts(model):
    trained = set_trainable(model, fix_bert_weights=True)
    assert set(trained) == STAGE_1
    assert {n for n, p in model.named_parameters() if p.requires_grad} == STAGE_1
    # the MLM head and the word side stay as the base model has them
    assert not model.lm_head.dense.weight.requires_grad
    assert not model.lm_head.bias.requires_grad
    assert not model.luke.embeddings.word_embeddings.weight.requires_grad
    assert model.entity_predictions.decoder.weight.requires_grad  # tied to the entity table


def test_stage_2_trains_everything_but_the_pooler(model):
    trained = set_trainable(model, fix_bert_weights=False)
    every = {name for name, _ in model.named_parameters()}
    assert set(trained) == every - {"luke.pooler.dense.weight", "luke.pooler.dense.bias"}
    assert set(trained) > STAGE_1
    assert (
        "lm_head.dense.weight" in trained and "luke.encoder.layer.1.output.dense.weight" in trained
    )


def test_no_weight_decay_on_biases_and_layer_norms(model):
    set_trainable(model, fix_bert_weights=False)
    decay, plain = parameter_groups(model)
    assert "weight_decay" not in decay  # the config's weight decay applies
    assert plain["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    plain_names = {names[id(p)] for p in plain["params"]}
    decay_names = {names[id(p)] for p in decay["params"]}
    assert not plain_names & decay_names
    assert "lm_head.layer_norm.weight" in plain_names  # the reference's name match missed it
    assert "luke.encoder.layer.0.attention.output.LayerNorm.weight" in plain_names
    assert "entity_predictions.transform.LayerNorm.weight" in plain_names
    assert "entity_predictions.bias" in plain_names and "lm_head.bias" in plain_names
    assert all(n.endswith("bias") or "LayerNorm" in n or "layer_norm" in n for n in plain_names)
    assert "luke.entity_embeddings.entity_embeddings.weight" in decay_names
    assert "luke.encoder.layer.0.attention.self.query.weight" in decay_names
    assert not any("pooler" in n for n in plain_names | decay_names)


def test_stage_1_groups_hold_only_the_entity_parts(model):
    set_trainable(model, fix_bert_weights=True)
    names = {id(p): n for n, p in model.named_parameters()}
    grouped = {names[id(p)] for group in parameter_groups(model) for p in group["params"]}
    assert grouped == STAGE_1
