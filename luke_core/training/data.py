"""The datasets a run trains on: found, checked against each other and against the model.

Checks made in every process before any process group exists (see `plan.py`): the dataset
directories are finished and can be mixed (the loader's `open_sources`: same lengths,
tokenizer and vocabulary sizes), share one entity vocabulary file, were built with the
tokenizer of `--bert-model-name` (same vocabulary), and fit the model's tables.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from luke_core import storage
from luke_core.dataset.format import ENTITY_VOCAB_FILE, TOKENIZER_DIR, DatasetMetadata
from luke_core.dataset.loading.sources import DatasetInfo, DatasetSource, dataset_info, open_sources
from luke_core.errors import LukeError

logger = logging.getLogger(__name__)

_MODEL_TYPE_OF_TOKENIZER = {"RobertaTokenizer": "roberta", "XLMRobertaTokenizer": "xlm-roberta"}


@dataclass(frozen=True)
class TrainingData:
    """One or more finished dataset directories that can be mixed in one run."""

    sources: tuple[DatasetSource, ...]
    info: DatasetInfo

    @property
    def dirs(self) -> tuple[str, ...]:
        return tuple(source.uri for source in self.sources)

    @property
    def first(self) -> DatasetMetadata:
        return self.sources[0].metadata

    @property
    def number_of_items(self) -> int:
        return self.info.number_of_items

    @property
    def entity_vocab_uri(self) -> str:
        return storage.join(self.dirs[0], ENTITY_VOCAB_FILE)

    @property
    def tokenizer_uri(self) -> str:
        return storage.join(self.dirs[0], TOKENIZER_DIR)

    def describe(self) -> list[dict]:
        return [
            {
                "uri": s.uri,
                "number_of_items": s.metadata.number_of_items,
                "language": s.metadata.language,
                "fingerprint": s.fingerprint,
            }
            for s in self.sources
        ]


def open_training_data(patterns: str | Sequence[str]) -> TrainingData:
    """`--dataset-dir`: directories or globs of them (local or s3://), checked by the
    loader's own rules, plus: mixed directories share one entity vocabulary file."""
    sources = tuple(open_sources([patterns] if isinstance(patterns, str) else list(patterns)))
    first = sources[0]
    first_vocab = storage.size(storage.join(first.uri, ENTITY_VOCAB_FILE))
    for source in sources[1:]:
        if storage.size(storage.join(source.uri, ENTITY_VOCAB_FILE)) != first_vocab:
            raise LukeError(
                f"{source.uri}: its {ENTITY_VOCAB_FILE} differs from {first.uri}'s; datasets "
                "trained together must share one entity vocabulary"
            )
    return TrainingData(sources, dataset_info(list(sources)))


def check_model_fits(data: TrainingData, base_config: dict, bert_model_name: str) -> None:
    """The model's word vocabulary and position table cover the dataset."""
    meta = data.first
    if meta.word_vocab_size > base_config["vocab_size"]:
        raise LukeError(
            f"{data.dirs[0]}: its tokenizer has {meta.word_vocab_size} words, the model "
            f"{bert_model_name} only {base_config['vocab_size']}: built with another tokenizer"
        )
    # RoBERTa numbers word positions from pad_token_id + 1
    positions = meta.max_seq_length + base_config.get("pad_token_id", 1) + 1
    if positions > base_config["max_position_embeddings"]:
        raise LukeError(
            f"{data.dirs[0]}: max_seq_length {meta.max_seq_length} needs {positions} position "
            f"embeddings, {bert_model_name} has {base_config['max_position_embeddings']}"
        )


def check_tokenizer(data: TrainingData, bert_model_name: str, model_type: str) -> None:
    """The dataset was built with the tokenizer of `bert_model_name`: the same vocabulary
    (or, when that tokenizer cannot be loaded, the same name or at least the same kind)."""
    from luke_core.dataset.tokenizers import load_tokenizer

    meta = data.first
    expected_type = _MODEL_TYPE_OF_TOKENIZER.get(meta.tokenizer_class)
    if expected_type and expected_type != model_type:
        raise LukeError(
            f"{data.dirs[0]}: built with a {meta.tokenizer_class} ({meta.tokenizer_name}), "
            f"but --bert-model-name {bert_model_name} is a {model_type} model"
        )
    try:
        model_tokenizer = load_tokenizer(bert_model_name)
    except LukeError as exc:
        logger.warning("cannot compare tokenizers, %s; checked names and sizes only", exc)
        return
    dataset_tokenizer = load_tokenizer(data.tokenizer_uri)
    if model_tokenizer.get_vocab() != dataset_tokenizer.get_vocab():
        raise LukeError(
            f"{data.dirs[0]}: built with the tokenizer {meta.tokenizer_name} "
            f"({meta.word_vocab_size} words), whose vocabulary differs from the one of "
            f"--bert-model-name {bert_model_name} ({len(model_tokenizer)} words)"
        )
