"""`BuildDatasetOptions`, the options of `luke build-wikipedia-pretraining-dataset` (in a
module of their own: the `luke` command reads their defaults at start-up, without the
builder's imports)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from luke_core.errors import LukeError
from luke_core.parallel import available_cpus
from luke_core.reuse import neutral

OPENNLP = "opennlp"
OPENNLP_MODEL_ENV = "LUKE_OPENNLP_MODEL"


@dataclass(frozen=True, kw_only=True)
class BuildDatasetOptions:
    """Options of `luke build-wikipedia-pretraining-dataset` (names as the reference's)."""

    sentence_splitter: str | None = None
    """`opennlp` or an ICU locale (en, ja, pt_BR...); default: ICU for the language."""
    opennlp_model: str | None = None
    """OpenNLP sentence model (default: $LUKE_OPENNLP_MODEL)."""
    language: str | None = None
    """Language of the entity titles (default: the dump's); required with a multilingual
    vocabulary."""
    max_seq_length: int = 512
    max_entity_length: int = 128
    max_mention_length: int = 30
    min_sentence_length: int = 5
    include_unk_entities: bool = False
    abstract_only: bool = False
    include_sentences_without_entities: bool = False
    max_num_documents: int | None = None
    predefined_entities_only: bool = False
    seed: int = 0
    """Seed of the page order."""
    processes: int = neutral(default_factory=available_cpus)
    shard_size: int = 16384
    """Instances per shard (the last one holds the rest)."""
    pages_per_task: int = neutral(default=16)
    """Pages per work unit sent to a process (speed only; the output does not change)."""
    reuse: bool = neutral(default=False)
    """Keep OUT_DIR when it was built from the same dump database (unchanged since), the
    same tokenizer vocabulary, entity vocabulary and sentence model, with the same options:
    see `luke_core.reuse`."""
    progress: bool = neutral(default=True)

    def __post_init__(self) -> None:
        positive = (
            "max_entity_length",
            "max_mention_length",
            "min_sentence_length",
            "processes",
            "shard_size",
            "pages_per_task",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise LukeError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.max_seq_length < 3:
            raise LukeError(f"max_seq_length must be at least 3, not {self.max_seq_length}")
        if self.min_sentence_length > self.max_seq_length - 2:
            raise LukeError(
                f"min_sentence_length {self.min_sentence_length} leaves no room: sentences "
                f"hold at most max_seq_length - 2 = {self.max_seq_length - 2} tokens"
            )
        if self.max_num_documents is not None and self.max_num_documents < 1:
            raise LukeError(f"max_num_documents must be at least 1, not {self.max_num_documents}")
        if self.sentence_splitter is not None and not self.sentence_splitter.strip():
            raise LukeError("sentence_splitter must not be empty")

    def chosen_splitter(self, language: str | None) -> str:
        """The splitter a build with these options uses for titles of `language`: the one
        named, else ICU for the language."""
        return self.sentence_splitter or language or "en"

    @property
    def resolved_opennlp_model(self) -> str | None:
        """The OpenNLP model a build with these options reads (its own, else the
        environment's), when its splitter is OpenNLP."""
        if self.sentence_splitter != OPENNLP:
            return None
        return self.opennlp_model or os.environ.get(OPENNLP_MODEL_ENV) or None
