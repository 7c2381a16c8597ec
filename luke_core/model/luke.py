"""The LUKE pretraining model, read top to bottom: entity embeddings, entity prediction
head, the encoder over [words; entities], the pretraining model with its loss.

Module and parameter names follow transformers' `LukeForMaskedLM`, so exporting a checkpoint
is a key map: `luke.embeddings.*`, `luke.entity_embeddings.*`, `luke.encoder.layer.N.*`,
`luke.pooler.*`, `lm_head.*`, `entity_predictions.*`. The word side (embeddings, encoder,
pooler, MLM head) are the base model's own transformers modules with its weights.

Pretraining uses standard self-attention over the concatenation of word and entity states;
entity-aware attention is added at export time (its extra queries start as copies).
Shapes: B batch, L words (CLS and SEP included), E entities, M max mention length,
H hidden size, D entity embedding size, V word vocabulary, Ve entity vocabulary,
Nw / Ne masked words / entities in the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from luke_core.model.base import BaseParts, build_base, load_base
from luke_core.model.config import LukeModelConfig

IGNORE_INDEX = -1
"""Label of the positions that are not predicted (the dataset's convention)."""

MODEL_INPUTS = (
    "word_ids",
    "word_segment_ids",
    "word_attention_mask",
    "entity_ids",
    "entity_position_ids",
    "entity_segment_ids",
    "entity_attention_mask",
    "masked_lm_labels",
    "masked_entity_labels",
)
"""The keys of a loader batch that `LukeForPretraining.forward` takes."""


class EntityEmbeddings(nn.Module):
    """Entity table (Ve x D) -> dense D -> H, + the mean position embedding of the mention's
    tokens (a table of its own, not the word side's) + token type, LayerNorm, dropout."""

    def __init__(self, config: LukeModelConfig):
        super().__init__()
        hidden = config.hidden_size
        self.entity_embeddings = nn.Embedding(
            config.entity_vocab_size, config.entity_emb_size, padding_idx=0
        )
        if config.entity_emb_size != hidden:  # as transformers: no dense when sizes agree
            self.entity_embedding_dense = nn.Linear(config.entity_emb_size, hidden, bias=False)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, hidden)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        entity_ids: torch.Tensor,  # (B, E)
        entity_position_ids: torch.Tensor,  # (B, E, M), word positions, -1 = padding
        entity_segment_ids: torch.Tensor,  # (B, E)
    ) -> torch.Tensor:  # (B, E, H)
        # a sparse gradient for the looked-up rows: the decoder tied to this table brings
        # the dense one, and summing into it beats building a second dense (Ve, D) tensor
        table = self.entity_embeddings
        embeddings = F.embedding(
            entity_ids, table.weight, table.padding_idx, sparse=True
        )  # (B, E, D)
        if hasattr(self, "entity_embedding_dense"):
            embeddings = self.entity_embedding_dense(embeddings)  # (B, E, H)
        positions = self._mention_means(entity_position_ids, embeddings.dtype)  # (B, E, H)
        embeddings = embeddings + positions + self.token_type_embeddings(entity_segment_ids)
        return self.dropout(self.LayerNorm(embeddings))

    def _mention_means(self, entity_position_ids: torch.Tensor, dtype: torch.dtype):
        """Mean position embedding of each mention's tokens, as averaging weights over the
        position table times the table: (B, E, P) @ (P, H). The same mean as gathering
        (B, E, M, H) embeddings and summing, without that tensor or its backward."""
        real = entity_position_ids != -1  # (B, E, M)
        count = real.sum(dim=-1, keepdim=True).clamp(min=1)  # (B, E, 1)
        table = self.position_embeddings.weight  # (P, H)
        weights = torch.zeros(
            (*entity_position_ids.shape[:2], table.size(0)), dtype=dtype, device=table.device
        )  # (B, E, P)
        weights.scatter_add_(2, entity_position_ids.clamp(min=0), real.to(dtype))
        return (weights / count) @ table  # (B, E, H)


class EntityPredictionHeadTransform(nn.Module):
    def __init__(self, config: LukeModelConfig):
        super().__init__()
        from transformers.activations import ACT2FN

        self.dense = nn.Linear(config.hidden_size, config.entity_emb_size)
        self.transform_act_fn = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.entity_emb_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:  # (N, H) -> (N, D)
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))


class EntityPredictionHead(nn.Module):
    """Dense H -> D, gelu, LayerNorm(D), then scores over the whole entity vocabulary with
    a decoder tied to the entity table and a bias of its own."""

    def __init__(self, config: LukeModelConfig):
        super().__init__()
        self.transform = EntityPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.entity_emb_size, config.entity_vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.entity_vocab_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:  # (N, H) -> (N, Ve)
        return self.decoder(self.transform(hidden_states)) + self.bias


class LukeModel(nn.Module):
    """Word and entity embeddings, then the base encoder over [words; entities]."""

    def __init__(self, config: LukeModelConfig, base: BaseParts):
        super().__init__()
        self.base_config = base.config  # transformers config: attention implementation, masks
        self.embeddings = base.embeddings
        self.entity_embeddings = EntityEmbeddings(config)
        self.encoder = base.encoder
        self.pooler = base.pooler  # not used in pretraining; kept for the export

    def forward(
        self,
        word_ids: torch.Tensor,  # (B, L)
        word_segment_ids: torch.Tensor,  # (B, L)
        word_attention_mask: torch.Tensor,  # (B, L)
        entity_ids: torch.Tensor,  # (B, E)
        entity_position_ids: torch.Tensor,  # (B, E, M)
        entity_segment_ids: torch.Tensor,  # (B, E)
        entity_attention_mask: torch.Tensor,  # (B, E)
    ) -> tuple[torch.Tensor, torch.Tensor]:  # (B, L, H), (B, E, H)
        from transformers.masking_utils import create_bidirectional_mask

        words = self.embeddings(input_ids=word_ids, token_type_ids=word_segment_ids)
        entities = self.entity_embeddings(entity_ids, entity_position_ids, entity_segment_ids)
        hidden = torch.cat([words, entities], dim=1)  # (B, L + E, H)
        mask = torch.cat([word_attention_mask, entity_attention_mask], dim=1)  # (B, L + E)
        # the mask in the form the configured attention (sdpa, eager, flash) wants
        mask = create_bidirectional_mask(
            config=self.base_config, inputs_embeds=hidden, attention_mask=mask
        )
        hidden = self.encoder(hidden, attention_mask=mask).last_hidden_state
        num_words = word_ids.size(1)
        return hidden[:, :num_words], hidden[:, num_words:]


@dataclass
class PretrainingOutput:
    """Losses (means over the masked positions of the batch) and the counts behind the
    accuracies, so metrics can be summed exactly over micro-batches and processes."""

    loss: torch.Tensor
    masked_lm_loss: torch.Tensor
    masked_entity_loss: torch.Tensor
    masked_lm_correct: torch.Tensor
    masked_lm_count: torch.Tensor
    masked_entity_correct: torch.Tensor
    masked_entity_count: torch.Tensor


class LukeForPretraining(nn.Module):
    """LUKE with the masked-word (MLM) and masked-entity prediction heads."""

    def __init__(self, config: LukeModelConfig, base: BaseParts):
        super().__init__()
        self.config = config
        self.luke = LukeModel(config, base)
        self.lm_head = base.lm_head  # its decoder is tied to the word embeddings already
        self.entity_predictions = EntityPredictionHead(config)
        self._init_new_weights()
        entity_table = self.luke.entity_embeddings.entity_embeddings
        self.entity_predictions.decoder.weight = entity_table.weight  # tie, as the reference
        self.train()  # from_pretrained hands the base modules over in eval mode (no dropout)

    @classmethod
    def from_base(cls, config: LukeModelConfig) -> LukeForPretraining:
        """The base model's pretrained weights; entity parts initialised fresh."""
        return cls(config, load_base(config.bert_model_name))

    @classmethod
    def from_config(cls, config: LukeModelConfig) -> LukeForPretraining:
        """Random weights everywhere: for loading a checkpoint into."""
        return cls(config, build_base(config.base_config))

    def _init_new_weights(self) -> None:
        """Normal(0, initializer_range) weights, zero biases, LayerNorm 1/0, as the reference
        initialises every parameter that the base checkpoint does not provide."""
        std = self.config.initializer_range
        for module in [*self.luke.entity_embeddings.modules(), *self.entity_predictions.modules()]:
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        with torch.no_grad():
            self.luke.entity_embeddings.entity_embeddings.weight[0].zero_()  # padding row
        nn.init.zeros_(self.entity_predictions.bias)

    def forward(
        self,
        word_ids: torch.Tensor,  # (B, L)
        word_segment_ids: torch.Tensor,  # (B, L)
        word_attention_mask: torch.Tensor,  # (B, L)
        entity_ids: torch.Tensor,  # (B, E)
        entity_position_ids: torch.Tensor,  # (B, E, M)
        entity_segment_ids: torch.Tensor,  # (B, E)
        entity_attention_mask: torch.Tensor,  # (B, E)
        masked_lm_labels: torch.Tensor,  # (B, L), -1 where not masked
        masked_entity_labels: torch.Tensor,  # (B, E), -1 where not masked
    ) -> PretrainingOutput:
        words, entities = self.luke(
            word_ids,
            word_segment_ids,
            word_attention_mask,
            entity_ids,
            entity_position_ids,
            entity_segment_ids,
            entity_attention_mask,
        )
        # the heads see only the masked positions: the full-vocabulary MLM head at every
        # position would cost more than the encoder itself
        word_targets = masked_lm_labels != IGNORE_INDEX  # (B, L)
        lm_logits = self.lm_head(words[word_targets])  # (Nw, V)
        entity_targets = masked_entity_labels != IGNORE_INDEX  # (B, E)
        entity_logits = self.entity_predictions(entities[entity_targets])  # (Ne, Ve)
        lm_loss, lm_correct, lm_count = _masked_prediction(
            lm_logits, masked_lm_labels[word_targets]
        )
        entity_loss, entity_correct, entity_count = _masked_prediction(
            entity_logits, masked_entity_labels[entity_targets]
        )
        return PretrainingOutput(
            loss=lm_loss + entity_loss,
            masked_lm_loss=lm_loss,
            masked_entity_loss=entity_loss,
            masked_lm_correct=lm_correct,
            masked_lm_count=lm_count,
            masked_entity_correct=entity_correct,
            masked_entity_count=entity_count,
        )


def _masked_prediction(
    logits: torch.Tensor,  # (N, C)
    labels: torch.Tensor,  # (N,)
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean cross-entropy, correct predictions, count. A batch without a masked position
    contributes a zero loss that still reaches every head parameter (no NaN from 0 / 0)."""
    count = torch.tensor(labels.numel(), device=logits.device)
    if labels.numel() == 0:
        return logits.sum() * 0.0, count * 0, count
    logits = logits.float()  # the softmax in fp32 also when the model runs in bf16
    loss = F.cross_entropy(logits, labels)
    correct = (logits.argmax(dim=-1) == labels).sum()
    return loss, correct, count
