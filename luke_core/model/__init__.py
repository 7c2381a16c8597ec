"""Step 4: the LUKE model over transformers' RoBERTa / XLM-R modules (see `luke.py`)."""

from luke_core.model.config import LukeModelConfig
from luke_core.model.luke import (
    IGNORE_INDEX,
    MODEL_INPUTS,
    EntityEmbeddings,
    EntityPredictionHead,
    LukeForPretraining,
    LukeModel,
    PretrainingOutput,
)

__all__ = [
    "IGNORE_INDEX",
    "MODEL_INPUTS",
    "EntityEmbeddings",
    "EntityPredictionHead",
    "LukeForPretraining",
    "LukeModel",
    "LukeModelConfig",
    "PretrainingOutput",
]
