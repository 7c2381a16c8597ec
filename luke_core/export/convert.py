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
from luke_core.export.options import ExportOptions
from luke_core.export.tokenizer import ExportedTokenizer, default_tokenizer_class, export_tokenizer
from luke_core.progress import log_summary, progress_bar
from luke_core.reuse import (
    Recipe,
    build_record,
    content_digest,
    file_stamp,
    recipe_options,
    reused_summary,
)
from luke_core.training.checkpoints import MARKER_FILE

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
PROVENANCE_FILE = "luke_export.json"
KIND = "huggingface_model"
EARLIER_EXPORT = storage.EarlierOutput(PROVENANCE_FILE, "kind", KIND, "a Hugging Face export")
RULES_VERSION = 2
"""Raised when a change of the key map, tokenizer files or card changes what is exported (2:
the published tokenizer defaults)."""


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
    reused: bool = False


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
    recipe = _recipe(sources, options)
    if options.reuse and (earlier := reused_summary(out_dir, recipe, _read_record, ExportSummary)):
        return earlier
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
        provenance = {**_provenance(sources, options), **build_record(recipe, summary)}
        storage.write_json(os.path.join(tmp, PROVENANCE_FILE), provenance)
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


def _recipe(sources: ExportSources, options: ExportOptions) -> Recipe:
    """The checkpoint by its completion record (tag, step, when it was saved), the run's
    files by size and time."""
    inputs = {
        "checkpoint": content_digest(storage.join(sources.checkpoint.uri, MARKER_FILE)),
        "run_metadata": file_stamp(sources.metadata_uri),
        "entity_vocab": file_stamp(sources.entity_vocab_uri),
    }
    return Recipe("convert-to-huggingface", RULES_VERSION, inputs, recipe_options(options))


def _read_record(out_dir: str) -> dict | None:
    provenance_uri = storage.join(out_dir, PROVENANCE_FILE)
    if not EARLIER_EXPORT.found_at(out_dir) or not storage.is_file(
        storage.join(out_dir, CONFIG_FILE)
    ):
        raise LukeError(f"{out_dir}: not a complete Hugging Face export")
    provenance = storage.read_json(provenance_uri)
    if "recipe" not in provenance:
        return None
    files = storage.list_files(out_dir)  # the record was written before the folder was whole
    names = [f[len(out_dir.rstrip("/")) + 1 :] for f in files]
    sizes = {"files": sorted(names), "bytes": sum(storage.size(f) for f in files)}
    return {**provenance, "summary": {**provenance.get("summary", {}), **sizes}}


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
