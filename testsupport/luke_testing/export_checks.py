"""Comparing our pretraining model with an exported transformers LUKE model on the same
inputs (tests and benchmarks of the export)."""

from __future__ import annotations

import torch


def make_batch(vocab_size: int, entity_vocab_size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Two sequences in the loader's layout: the second shorter (padding), with one entity
    less; mentions of one to three tokens; ids drawn from the whole tables."""
    generator = torch.Generator().manual_seed(seed)
    batch, words, entities, mention = 2, 14, 3, 30
    word_ids = torch.randint(3, vocab_size, (batch, words), generator=generator)
    word_ids[:, 0], word_ids[:, -1] = 0, 2
    word_mask = torch.ones(batch, words, dtype=torch.long)
    word_ids[1, -4:], word_mask[1, -4:] = 1, 0
    word_ids[1, -5] = 2
    entity_ids = torch.randint(1, entity_vocab_size, (batch, entities), generator=generator)
    entity_ids[0, 0] = 2  # a masked entity
    entity_mask = torch.ones(batch, entities, dtype=torch.long)
    entity_ids[1, -1], entity_mask[1, -1] = 0, 0
    positions = torch.full((batch, entities, mention), -1)
    for e, span in enumerate([(1, 2), (3, 6), (7, 9)]):
        positions[:, e, : span[1] - span[0]] = torch.arange(*span)
    positions[1, -1] = -1
    return {
        "word_ids": word_ids,
        "word_segment_ids": torch.zeros_like(word_ids),
        "word_attention_mask": word_mask,
        "entity_ids": entity_ids,
        "entity_position_ids": positions,
        "entity_segment_ids": torch.zeros_like(entity_ids),
        "entity_attention_mask": entity_mask,
    }


def our_logits(model, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Word and entity logits of our pretraining model at every position."""
    with torch.no_grad():
        words, entities = model.luke(**batch)
        return model.lm_head(words), model.entity_predictions(entities)


def hf_outputs(model, batch):
    with torch.no_grad():
        return model(
            input_ids=batch["word_ids"],
            attention_mask=batch["word_attention_mask"],
            token_type_ids=batch["word_segment_ids"],
            entity_ids=batch["entity_ids"],
            entity_attention_mask=batch["entity_attention_mask"],
            entity_token_type_ids=batch["entity_segment_ids"],
            entity_position_ids=batch["entity_position_ids"],
        )


def load_masked_lm(folder: str, **kwargs):
    from transformers import LukeForMaskedLM
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the report of the unused entity-aware queries
    return LukeForMaskedLM.from_pretrained(folder, **kwargs).eval()
