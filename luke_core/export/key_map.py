"""From the checkpoint's state dict to the one of transformers' `LukeForMaskedLM`.

The model's parameter names are those of `LukeForMaskedLM` already (`luke_core/model/luke.py`),
so the key map is the identity over every checkpoint key. What the export changes:

- `luke.embeddings.word_embeddings.weight` and the MLM head's bias (`lm_head.bias`, also
  `lm_head.decoder.bias`) get rows for the word tokens `<ent>` and `<ent2>`, copies of the
  rows of `@` and `#` (as transformers' conversion scripts initialise them);
- `luke.entity_embeddings.entity_embeddings.weight` and `entity_predictions.bias` are
  re-indexed by the exported entity vocabulary (`entities.py`): `[MASK2]` added as a copy
  of `[MASK]`, or only the special rows in a lite export;
- every layer gets `w2e_query`, `e2w_query` and `e2e_query` (weight and bias), copies of its
  `query`: pretraining used plain self-attention, and with these copies entity-aware
  attention computes exactly the same scores, so fine-tuning starts from the trained model;
- `entity_predictions.decoder.weight` stays tied to the entity table; the MLM decoder
  (`lm_head.decoder.weight`, tied to the word table in pretraining) is stored as a table of
  its own with the same rows: transformers 5's `LukeForMaskedLM` does not tie it, so a
  file without it would load a random decoder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence

import torch

from luke_core.errors import LukeError
from luke_core.model.config import LukeModelConfig

WORD_TABLE = "luke.embeddings.word_embeddings.weight"
ENTITY_TABLE = "luke.entity_embeddings.entity_embeddings.weight"
LM_BIAS = "lm_head.bias"
LM_DECODER_BIAS = "lm_head.decoder.bias"
LM_DECODER = "lm_head.decoder.weight"
ENTITY_BIAS = "entity_predictions.bias"
ENTITY_DECODER = "entity_predictions.decoder.weight"
ENTITY_AWARE_QUERIES = ("w2e_query", "e2w_query", "e2e_query")


def expected_shapes(config: LukeModelConfig) -> dict[str, torch.Size]:
    """The state dict a checkpoint of this model holds: names and shapes, from the model
    class itself (built on the meta device: no memory, no weights)."""
    from luke_core.model import LukeForPretraining

    with torch.device("meta"):
        model = LukeForPretraining.from_config(config)
    return {name: tensor.shape for name, tensor in model.state_dict().items()}


def check_state_dict(
    state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Size], source: str
) -> None:
    """The checkpoint holds exactly the parameters of its model config, shapes included."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{name} {tuple(state[name].shape)} (expected {tuple(shape)})"
        for name, shape in expected.items()
        if name in state and state[name].shape != shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {_some(missing)}")
    if unexpected:
        problems.append(f"unexpected {_some(unexpected)}")
    if wrong:
        problems.append(f"shapes differ: {_some(wrong)}")
    if problems:
        raise LukeError(
            f"{source}: the weights do not fit the checkpoint's model config: {'; '.join(problems)}"
        )


def _some(items: Sequence[str], limit: int = 5) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def huggingface_state_dict(
    state: Mapping[str, torch.Tensor],
    *,
    num_layers: int,
    word_rows: Sequence[int],
    entity_rows: Sequence[int],
) -> dict[str, torch.Tensor]:
    """`LukeForMaskedLM`'s state dict (entity-aware attention included). Exported word row i
    is row `word_rows[i]` of the checkpoint's tables, entity row j is `entity_rows[j]`."""
    if not torch.equal(state[ENTITY_DECODER], state[ENTITY_TABLE]):
        raise LukeError(
            "the checkpoint's entity decoder is not the entity table; LukeForMaskedLM ties them"
        )
    out = {name: tensor for name, tensor in state.items()}
    out[WORD_TABLE] = take_rows(state[WORD_TABLE], word_rows)
    # the MLM head's forward uses its decoder's weight and bias: those are the source
    out[LM_DECODER] = take_rows(state[LM_DECODER], word_rows)
    out[LM_DECODER_BIAS] = take_rows(state[LM_DECODER_BIAS], word_rows)
    out[LM_BIAS] = out[LM_DECODER_BIAS]
    out[ENTITY_TABLE] = take_rows(state[ENTITY_TABLE], entity_rows)
    out[ENTITY_BIAS] = take_rows(state[ENTITY_BIAS], entity_rows)
    out[ENTITY_DECODER] = out[ENTITY_TABLE]
    for layer in range(num_layers):
        prefix = f"luke.encoder.layer.{layer}.attention.self."
        for part in ("weight", "bias"):
            query = state[f"{prefix}query.{part}"]
            for name in ENTITY_AWARE_QUERIES:
                out[f"{prefix}{name}.{part}"] = query.clone()
    return out


def take_rows(table: torch.Tensor, rows: Sequence[int]) -> torch.Tensor:
    """A new table whose row i is `table[rows[i]]` (a contiguous copy)."""
    if list(rows) == list(range(table.shape[0])):
        return table.clone()
    return table.index_select(0, torch.as_tensor(rows, dtype=torch.long)).contiguous()


def word_rows(model_vocab_size: int, copies: Mapping[int, int]) -> list[int]:
    """Source rows of the exported word table: the model's rows, then `copies` (new id ->
    id of the token it starts as). New ids must follow the model's table without a gap."""
    size = max(model_vocab_size, max(copies) + 1)
    rows = list(range(size))
    for new_id, source in copies.items():
        rows[new_id] = source
    gaps = [i for i in range(model_vocab_size, size) if i not in copies]
    if gaps:
        raise LukeError(
            f"the tokenizer gives added tokens ids {sorted(copies)} beyond the model's "
            f"{model_vocab_size} word embeddings: it has more words than the model"
        )
    return rows


def luke_config(
    config: LukeModelConfig,
    *,
    vocab_size: int,
    entity_vocab_size: int,
    use_entity_aware_attention: bool,
):
    """transformers' `LukeConfig` of the exported model; `bert_model_name` records the base
    model, as the reference's configs do."""
    from transformers import LukeConfig

    base = config.base_config
    return LukeConfig(
        vocab_size=vocab_size,
        entity_vocab_size=entity_vocab_size,
        hidden_size=config.hidden_size,
        entity_emb_size=config.entity_emb_size,
        num_hidden_layers=base["num_hidden_layers"],
        num_attention_heads=base["num_attention_heads"],
        intermediate_size=base["intermediate_size"],
        hidden_act=config.hidden_act,
        hidden_dropout_prob=config.hidden_dropout_prob,
        attention_probs_dropout_prob=base.get("attention_probs_dropout_prob", 0.1),
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        initializer_range=config.initializer_range,
        layer_norm_eps=config.layer_norm_eps,
        use_entity_aware_attention=use_entity_aware_attention,
        pad_token_id=base.get("pad_token_id", 1),
        bos_token_id=base.get("bos_token_id", 0),
        eos_token_id=base.get("eos_token_id", 2),
        architectures=["LukeForMaskedLM"],
        bert_model_name=config.bert_model_name,
    )


def save_model(
    state: dict[str, torch.Tensor], hf_config, out_dir: str, *, use_entity_aware_attention: bool
) -> int:
    """Write config.json and model.safetensors with transformers itself (tied weights stored
    once, as from_pretrained expects); returns the number of parameters. The entity-aware
    queries are saved either way (as the reference did): a model exported without the
    flag can still be loaded with `use_entity_aware_attention=True` and gets the copies."""
    from transformers import LukeForMaskedLM

    hf_config.use_entity_aware_attention = True
    with torch.device("meta"):
        model = LukeForMaskedLM(hf_config)
    expected = set(model.state_dict())
    if set(state) != expected:
        raise LukeError(
            "internal: the converted weights do not match LukeForMaskedLM: "
            f"missing {_some(sorted(expected - set(state)))}, "
            f"unexpected {_some(sorted(set(state) - expected))}"
        )
    model.load_state_dict(state, strict=True, assign=True)
    model.tie_weights()
    model.eval()
    model.config.use_entity_aware_attention = use_entity_aware_attention
    model.save_pretrained(out_dir)
    # safetensors writes its files private (0600); give them the mode of the other files
    for name in os.listdir(out_dir):
        if name.endswith(".safetensors"):
            shutil.copymode(os.path.join(out_dir, "config.json"), os.path.join(out_dir, name))
    return sum(p.numel() for p in model.parameters())
