"""`export_huggingface`: a `luke pretrain` checkpoint -> a Hugging Face model folder (step 5,
`luke convert-to-huggingface`).

Reads: a complete checkpoint (tag, checkpoint folder or run folder; local or s3://) and its
run's `metadata.json`, `entity_vocab.jsonl`, `tokenizer/` and `metrics.jsonl`. Writes, published
atomically at OUT_DIR (local or s3://), a folder that transformers' `LukeForMaskedLM` /
`LukeModel` and `LukeTokenizer` / `MLukeTokenizer` load with `from_pretrained`:

  config.json              LukeConfig (words + <ent> <ent2> and the tokenizer's other added
                           tokens, entities +1 for [MASK2])
  model.safetensors        weights (`key_map.py`), fp32
  tokenizer.json, tokenizer_config.json, entity_vocab.json
  vocab.json, merges.txt   (LukeTokenizer) | sentencepiece.bpe.model (MLukeTokenizer)
  README.md                model card (`model_card.py`)
  luke_export.json         where the model came from (checkpoint, step, options)

Every input is checked before any output exists.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import luke_core
from luke_core import storage
from luke_core.entity_vocab.vocab import EntityVocab
from luke_core.errors import LukeError
from luke_core.export.checkpoint import ExportSources, load_model_state, locate_sources
from luke_core.export.entities import ExportedEntities, export_entities
from luke_core.export.key_map import (
    check_state_dict,
    expected_shapes,
    huggingface_state_dict,
    luke_config,
    save_model,
    word_rows,
)
from luke_core.export.model_card import CardFacts, render_model_card
from luke_core.export.tokenizer import (
    ExportedTokenizer,
    check_tokenizer_class,
    default_tokenizer_class,
    export_tokenizer,
)
from luke_core.progress import log_summary, progress_bar

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
PROVENANCE_FILE = "luke_export.json"
KIND = "huggingface_model"
EARLIER_EXPORT = storage.EarlierOutput(PROVENANCE_FILE, "kind", KIND, "a Hugging Face export")


@dataclass(frozen=True, kw_only=True)
class ExportOptions:
    """Options of `luke convert-to-huggingface` (the reference's names where it had them)."""

    run_dir: str | None = None
    """The run folder: where a bare tag is looked up and the run files are (default: the
    checkpoint folder's parent)."""
    metadata_path: str | None = None
    """The run's metadata.json (default: in the run folder)."""
    entity_vocab_path: str | None = None
    """The entity vocabulary of the checkpoint's entity table (default: the run's)."""
    tokenizer_path: str | None = None
    """The tokenizer folder (default: the run's tokenizer/)."""
    tokenizer_class: str | None = None
    """`LukeTokenizer` or `MLukeTokenizer` (default: by the base model, RoBERTa or XLM-R)."""
    use_entity_aware_attention: bool = True
    """The exported config's `use_entity_aware_attention` (the reference's
    --set-entity-aware-attention-default); its query weights are saved either way."""
    remove_entity_embeddings: bool = False
    """The lite export: no entity table beyond the special entities."""
    model_name: str | None = None
    """The model's name in the card (its hub id, e.g. `org/luke-base-wiki`; default: the
    output folder's name)."""
    license: str | None = None
    """The card's licence field (a Hub licence id such as `apache-2.0`)."""
    progress: bool = True

    def __post_init__(self) -> None:
        if self.tokenizer_class is not None:
            check_tokenizer_class(self.tokenizer_class)
        if self.model_name is not None and not self.model_name.strip():
            raise LukeError("model_name must not be empty")


@dataclass(kw_only=True)
class ExportSummary:
    output_dir: str
    checkpoint: str
    step: int
    epoch: int
    tokenizer_class: str
    vocab_size: int
    entity_vocab_size: int
    use_entity_aware_attention: bool
    lite: bool
    parameters: int
    files: list[str] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0


def export_huggingface(
    checkpoint: str, out_dir: str, options: ExportOptions | None = None
) -> ExportSummary:
    """Convert a checkpoint into a Hugging Face model folder at `out_dir`."""
    options = options or ExportOptions()
    started = time.perf_counter()
    sources = locate_sources(
        checkpoint,
        run_dir=options.run_dir,
        metadata_path=options.metadata_path,
        entity_vocab_path=options.entity_vocab_path,
        tokenizer_path=options.tokenizer_path,
    )
    tokenizer_class = options.tokenizer_class or default_tokenizer_class(
        sources.model_config.model_type, sources.metadata_uri
    )
    entities = _entities(sources, tokenizer_class, options)
    bar = progress_bar(total=3, desc="export", unit="stage", disable=not options.progress)
    with bar, storage.output_dir(out_dir, replaces=EARLIER_EXPORT, markers=[CONFIG_FILE]) as tmp:
        bar.set_postfix_str("tokenizer")
        tokenizer = _export_tokenizer(sources, tmp, tokenizer_class, entities)
        bar.update(1)
        bar.set_postfix_str("weights")
        vocab_size, parameters = _export_weights(sources, tmp, tokenizer, entities, options)
        bar.update(1)
        bar.set_postfix_str("model card")
        summary = ExportSummary(
            output_dir=out_dir,
            checkpoint=sources.checkpoint.uri,
            step=sources.checkpoint.step,
            epoch=sources.checkpoint.epoch,
            tokenizer_class=tokenizer_class,
            vocab_size=vocab_size,
            entity_vocab_size=entities.size,
            use_entity_aware_attention=options.use_entity_aware_attention,
            lite=options.remove_entity_embeddings,
            parameters=parameters,
        )
        _write_card(sources, summary, options, out_dir, tmp)
        storage.write_json(os.path.join(tmp, PROVENANCE_FILE), _provenance(sources, options))
        summary.files = sorted(os.listdir(tmp))
        summary.bytes = sum(os.path.getsize(os.path.join(tmp, name)) for name in summary.files)
        bar.update(1)
    summary.seconds = time.perf_counter() - started
    log_summary("convert-to-huggingface", summary)
    return summary


def _export_tokenizer(
    sources: ExportSources, tmp: str, tokenizer_class: str, entities: ExportedEntities
) -> ExportedTokenizer:
    config = sources.model_config
    # RoBERTa and XLM-R number word positions from pad_token_id + 1
    max_words = config.max_position_embeddings - config.base_config.get("pad_token_id", 1) - 1
    return export_tokenizer(
        sources.tokenizer_uri,
        tmp,
        tokenizer_class=tokenizer_class,
        entity_vocab=entities.mapping,
        model_max_length=max_words,
    )


def _export_weights(
    sources: ExportSources,
    tmp: str,
    tokenizer: ExportedTokenizer,
    entities: ExportedEntities,
    options: ExportOptions,
) -> tuple[int, int]:
    """config.json and model.safetensors; returns the word vocabulary size and the number
    of parameters."""
    config = sources.model_config
    with _scratch() as scratch:
        state = load_model_state(sources.checkpoint, scratch)
        check_state_dict(state, expected_shapes(config), sources.checkpoint.uri)
        rows = word_rows(config.vocab_size, tokenizer.new_word_rows)
        hf_state = huggingface_state_dict(
            state,
            num_layers=config.base_config["num_hidden_layers"],
            word_rows=rows,
            entity_rows=entities.rows,
        )
        del state
        hf_config = luke_config(
            config,
            vocab_size=len(rows),
            entity_vocab_size=entities.size,
            use_entity_aware_attention=options.use_entity_aware_attention,
        )
        parameters = save_model(
            hf_state, hf_config, tmp, use_entity_aware_attention=options.use_entity_aware_attention
        )
    return len(rows), parameters


def _entities(
    sources: ExportSources, tokenizer_class: str, options: ExportOptions
) -> ExportedEntities:
    """The exported entity vocabulary, after checking that the vocabulary is the one of
    the checkpoint's entity table."""
    vocab = EntityVocab.load(sources.entity_vocab_uri)
    table = sources.model_config.entity_vocab_size
    if len(vocab) != table:
        raise LukeError(
            f"{sources.entity_vocab_uri}: {len(vocab):,} entities, but the entity table of "
            f"{sources.checkpoint.uri} has {table:,} rows: not the vocabulary it was trained with"
        )
    return export_entities(
        vocab,
        multilingual=tokenizer_class == "MLukeTokenizer",
        language=sources.metadata.get("language"),
        lite=options.remove_entity_embeddings,
    )


def _write_card(
    sources: ExportSources, summary: ExportSummary, options: ExportOptions, out_dir: str, tmp: str
) -> None:
    facts = CardFacts(
        model_id=options.model_name or storage.basename(out_dir),
        tokenizer_class=summary.tokenizer_class,
        parameters=summary.parameters,
        vocab_size=summary.vocab_size,
        entity_vocab_size=summary.entity_vocab_size,
        use_entity_aware_attention=summary.use_entity_aware_attention,
        lite=summary.lite,
        license=options.license,
    )
    storage.write_text(os.path.join(tmp, CARD_FILE), render_model_card(sources, facts))


def _provenance(sources: ExportSources, options: ExportOptions) -> dict:
    info = sources.checkpoint
    return {
        "kind": KIND,
        "luke_version": luke_core.__version__,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "checkpoint": info.uri,
        "tag": info.tag,
        "step": info.step,
        "epoch": info.epoch,
        "samples": info.samples,
        "run_metadata": sources.metadata_uri,
        "entity_vocab": sources.entity_vocab_uri,
        "tokenizer": sources.tokenizer_uri,
        "options": {k: v for k, v in dataclasses.asdict(options).items() if k != "progress"},
    }


@contextlib.contextmanager
def _scratch() -> Iterator[str]:
    """A local folder for an s3:// checkpoint's model file, removed at the end."""
    path = tempfile.mkdtemp(prefix="luke-export-", dir=os.environ.get("LUKE_TMPDIR"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
