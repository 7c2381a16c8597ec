"""Which parameters train, and with which weight decay.

Stage 1 (`--fix-bert-weights`) trains what the reference trains: the entity embeddings
(table, dense, entity position table, token type, LayerNorm) and the entity prediction head
(transform and bias; its decoder is the entity table itself). The word side, the encoder and
the MLM head stay as the base model has them, although the MLM loss is still computed.

The pooler never trains: pretraining does not use it (the reference left it out of the
optimizer). Weight decay spares biases and LayerNorm weights, recognised by module type (the
reference matched the names "bias" and "LayerNorm.weight", which missed the MLM head's
`layer_norm`; here it is spared as well).
"""

from __future__ import annotations

from typing import Any

from torch import nn

STAGE_1_TRAINED_PREFIXES = ("luke.entity_embeddings.", "entity_predictions.")
NEVER_TRAINED_PREFIXES = ("luke.pooler.",)


def set_trainable(model: nn.Module, *, fix_bert_weights: bool) -> list[str]:
    """Set `requires_grad`; returns the names of the trained parameters."""
    trained = []
    for name, param in model.named_parameters():
        param.requires_grad = not name.startswith(NEVER_TRAINED_PREFIXES) and (
            not fix_bert_weights or name.startswith(STAGE_1_TRAINED_PREFIXES)
        )
        if param.requires_grad:
            trained.append(name)
    return trained


def parameter_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Two optimizer groups of the trainable parameters: with the config's weight decay,
    and without any (biases, LayerNorm weights)."""
    no_decay = {id(module.weight) for module in model.modules() if isinstance(module, nn.LayerNorm)}
    decay, plain = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name.endswith("bias") or id(param) in no_decay:
            plain.append(param)
        else:
            decay.append(param)
    groups = [{"params": decay}, {"params": plain, "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]
