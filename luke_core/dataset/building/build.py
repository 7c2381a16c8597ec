"""`build_dataset`: dump database + tokenizer + entity vocabulary -> pretraining dataset
(step 3 of the pipeline, `luke build-wikipedia-pretraining-dataset`).

Reads: a dump database (step 1), a fast Hugging Face tokenizer (hub name or folder), an
entity vocabulary (step 2). Writes: a dataset directory (see `format.py`): Arrow shards,
`entity_vocab.jsonl` (the vocabulary used), `tokenizer/`, and `metadata.json` last;
published atomically at OUT_DIR (local or s3://).

Pages are taken in an order shuffled with `seed` (the reference shuffled without a
seed), cut into work units (`workers.py`) and turned into instances (`instances.py`).
Every input is checked before anything is written.

`predefined_entities_only` keeps, as the reference's option of that name, only the
pages whose title is in the entity vocabulary (mLUKE builds each language's dataset from
the pages of the entities of its multilingual vocabulary).
"""

from __future__ import annotations

import array
import dataclasses
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from luke_core import storage
from luke_core.dataset.building.instances import InstanceCounts, InstanceRules
from luke_core.dataset.building.language import category_names, resolve_language
from luke_core.dataset.building.options import BuildDatasetOptions
from luke_core.dataset.building.sentences import SplitterSpec, resolve_splitter
from luke_core.dataset.building.tokenization import SegmentTokenizer
from luke_core.dataset.building.workers import UnitContext, process_units
from luke_core.dataset.building.writer import ShardWriter
from luke_core.dataset.format import (
    EARLIER_DATASET,
    ENTITY_VOCAB_FILE,
    METADATA_FILE,
    TOKENIZER_DIR,
    DatasetMetadata,
    file_sha256,
    load_metadata,
    tokenizer_sha256,
)
from luke_core.dataset.tokenizers import load_tokenizer, save_tokenizer, tokenizer_class_name
from luke_core.dump_db import DumpDB
from luke_core.entity_vocab.vocab import EntityVocab
from luke_core.errors import LukeError
from luke_core.progress import log_summary, progress_bar, summary_dict
from luke_core.reuse import Recipe, content_digest, file_stamp, recipe_options, reused_summary

logger = logging.getLogger(__name__)

# the reference skips these title prefixes; a namespace-0 dump database holds none of them
SKIPPED_TITLE_PREFIXES = ("image", "file", "category")
RULES_VERSION = 2
"""Raised when a change of the sentence, tokenisation or packing rules changes datasets (2: a
link right after a link starts a word, as the reference's)."""


@dataclass(kw_only=True)
class BuildDatasetSummary:
    """What a build did; also the metrics the pipeline logs."""

    pages: int = 0
    pages_with_instances: int = 0
    paragraphs: int = 0
    sentences: int = 0
    """Sentences of an accepted length."""
    sentences_too_short: int = 0
    sentences_too_long: int = 0
    sequences: int = 0
    tokens: int = 0
    entities: int = 0
    unk_entities: int = 0
    unk_entity_share: float = 0.0
    entities_over_limit: int = 0
    """Mentions beyond max_entity_length in a sequence (dropped)."""
    mentions_cut: int = 0
    """Mentions longer than max_mention_length (their first positions kept)."""
    links: int = 0
    links_in_vocab: int = 0
    links_unknown: int = 0
    links_category: int = 0
    links_across_sentences: int = 0
    shards: int = 0
    bytes: int = 0
    seconds: float = 0.0
    """The whole build, loading the inputs and writing the outputs included."""
    processing_seconds: float = 0.0
    """From the first page read to the last instance written."""
    pages_per_second: float = 0.0
    tokens_per_second: float = 0.0
    """Rates over the processing time."""
    reused: bool = False
    """OUT_DIR was current and kept (`reuse`); the figures are those of its build."""


@dataclass
class _Inputs:
    db: DumpDB
    tokenizer: object
    vocab: EntityVocab
    language: str | None
    splitter: SplitterSpec


def build_dataset(
    dump_db: str,
    tokenizer: str,
    entity_vocab: str,
    out_dir: str,
    options: BuildDatasetOptions | None = None,
) -> BuildDatasetSummary:
    """Build the pretraining dataset of a dump database into `out_dir`."""
    options = options or BuildDatasetOptions()
    started = time.perf_counter()
    hf_tokenizer = load_tokenizer(tokenizer)
    recipe = _recipe(dump_db, hf_tokenizer, entity_vocab, options)
    if options.reuse and (
        earlier := reused_summary(out_dir, recipe, _read_record, BuildDatasetSummary)
    ):
        return earlier
    inputs = _open_inputs(dump_db, hf_tokenizer, entity_vocab, options)
    try:
        page_ids = select_pages(inputs.db, inputs.vocab, inputs.language, options)
        with storage.output_dir(out_dir, replaces=EARLIER_DATASET, markers=[METADATA_FILE]) as tmp:
            writer = ShardWriter(tmp, options.shard_size)
            processing_started = time.perf_counter()
            counts = _write_instances(inputs, page_ids, writer, options)
            shards = writer.close()
            processing = time.perf_counter() - processing_started
            if not shards:
                raise LukeError(
                    f"{dump_db}: no instance from {counts.pages} pages ({counts.links} links, "
                    f"{counts.links_in_vocab} in the vocabulary {entity_vocab}); check that the "
                    "vocabulary belongs to this dump, or use --include-sentences-without-entities"
                )
            summary = _summary(counts, shards, time.perf_counter() - started, processing)
            inputs.vocab.save(os.path.join(tmp, ENTITY_VOCAB_FILE))
            save_tokenizer(inputs.tokenizer, os.path.join(tmp, TOKENIZER_DIR))
            metadata = _metadata(inputs, shards, summary, options, dump_db, tokenizer, entity_vocab)
            metadata = dataclasses.replace(
                metadata,
                entity_vocab_sha256=file_sha256(os.path.join(tmp, ENTITY_VOCAB_FILE)),
                recipe=recipe.to_json(),
            )
            storage.write_json(os.path.join(tmp, METADATA_FILE), metadata.to_json())
    finally:
        inputs.db.close()
    log_summary("build-wikipedia-pretraining-dataset", summary)
    return summary


def _recipe(dump_db: str, tokenizer, entity_vocab: str, options: BuildDatasetOptions) -> Recipe:
    """The inputs by identity (the tokenizer by its vocabulary: the same tokenizer whatever
    its name or path), the options with the OpenNLP model the environment may name."""
    inputs = {
        "dump_db": file_stamp(dump_db),
        "tokenizer": {"vocabulary_sha256": tokenizer_sha256(tokenizer)},
        "entity_vocab": content_digest(entity_vocab, "entity vocabulary"),
    }
    model = options.resolved_opennlp_model
    if model:
        inputs["opennlp_model"] = file_stamp(model, "OpenNLP sentence model")
    # the splitter as resolved when the language is known without the dump (the dump's
    # language, the other case, is fixed by the dump's own identity)
    splitter = options.chosen_splitter(options.language) if options.language else None
    options_json = recipe_options(
        options, opennlp_model=model, sentence_splitter=options.sentence_splitter or splitter
    )
    return Recipe("build-wikipedia-pretraining-dataset", RULES_VERSION, inputs, options_json)


def _read_record(out_dir: str) -> dict | None:
    meta = load_metadata(out_dir)
    return {"recipe": meta.recipe, "summary": meta.summary} if meta.recipe else None


def _open_inputs(
    dump_db: str, hf_tokenizer, entity_vocab: str, options: BuildDatasetOptions
) -> _Inputs:
    """Open and check every input; raises LukeError before any output exists."""
    db = DumpDB(dump_db)
    try:
        vocab = EntityVocab.load(entity_vocab)
        language = resolve_language(db, vocab, options.language, dump_db, entity_vocab)
        splitter = _splitter(options, language)
    except BaseException:
        db.close()
        raise
    return _Inputs(db, hf_tokenizer, vocab, language, splitter)


def _splitter(options: BuildDatasetOptions, language: str | None) -> SplitterSpec:
    if options.sentence_splitter:
        return resolve_splitter(options.sentence_splitter, options.resolved_opennlp_model)
    try:  # the default: ICU for the language
        return resolve_splitter(options.chosen_splitter(language))
    except LukeError:
        raise LukeError(
            f"ICU has no sentence rules for the language {language!r}: pass "
            "--sentence-splitter (an ICU locale, or opennlp with a model)"
        ) from None


def select_pages(
    db: DumpDB, vocab: EntityVocab, language: str | None, options: BuildDatasetOptions
) -> np.ndarray:
    """Ids of the pages to process, in the seeded shuffled order. (The dump database
    numbers its pages 0..n-1 in title-iteration order.)"""
    selected = array.array("q")  # 8 bytes a page, not a Python int each
    for page_id, title in enumerate(db.titles()):
        prefix, colon, _ = title.partition(":")
        if colon and prefix.lower() in SKIPPED_TITLE_PREFIXES:
            continue
        if options.predefined_entities_only and vocab.get_id(title, language) is None:
            continue
        selected.append(page_id)
    # RandomState: its stream is frozen across numpy versions, so the order is stable
    order = np.random.RandomState(options.seed).permutation(np.frombuffer(selected, np.int64))
    if options.max_num_documents is not None:
        order = order[: options.max_num_documents]
    return order


def _units(page_ids: np.ndarray, size: int, processes: int) -> Iterator[list[int]]:
    """Units of `size` pages, and toward the end ever smaller ones (each about 1/(2P) of
    what remains) so that the processes finish together. Instances never cross pages, so
    the cut changes nothing in the output."""
    total = len(page_ids)
    tail_start = max(0, total - 2 * processes * size) // size * size
    for start in range(0, tail_start, size):
        yield page_ids[start : start + size].tolist()
    start = tail_start
    while start < total:
        step = max(1, min(size, (total - start) // (2 * processes)))
        yield page_ids[start : start + step].tolist()
        start += step


def _write_instances(
    inputs: _Inputs, page_ids: np.ndarray, writer: ShardWriter, options: BuildDatasetOptions
) -> InstanceCounts:
    rules = InstanceRules(
        language=inputs.language,
        max_seq_length=options.max_seq_length,
        max_entity_length=options.max_entity_length,
        max_mention_length=options.max_mention_length,
        min_sentence_length=options.min_sentence_length,
        include_unk_entities=options.include_unk_entities,
        abstract_only=options.abstract_only,
        include_sentences_without_entities=options.include_sentences_without_entities,
        category_names=category_names(inputs.db),
    )
    context = UnitContext(
        inputs.db.path, inputs.vocab, SegmentTokenizer(inputs.tokenizer), inputs.splitter, rules
    )
    counts = InstanceCounts()
    units = _units(page_ids, options.pages_per_task, options.processes)
    with progress_bar(
        total=len(page_ids), desc="build-dataset", unit="page", disable=not options.progress
    ) as bar:
        for columns, unit_counts in process_units(context, units, options.processes):
            writer.add(columns)
            counts.add(unit_counts)
            bar.update(unit_counts.pages)
            bar.set_postfix(sequences=counts.sequences, tokens=counts.tokens, refresh=False)
    return counts


def _summary(
    counts: InstanceCounts, shards, seconds: float, processing: float
) -> BuildDatasetSummary:
    names = {f.name for f in dataclasses.fields(BuildDatasetSummary)}
    summary = BuildDatasetSummary(
        **{k: v for k, v in dataclasses.asdict(counts).items() if k in names},
        shards=len(shards),
        bytes=sum(s.bytes for s in shards),
        seconds=seconds,
        processing_seconds=processing,
    )
    summary.unk_entity_share = counts.unk_entities / counts.entities if counts.entities else 0.0
    summary.pages_per_second = counts.pages / processing if processing else 0.0
    summary.tokens_per_second = counts.tokens / processing if processing else 0.0
    return summary


def _metadata(
    inputs: _Inputs,
    shards,
    summary: BuildDatasetSummary,
    options: BuildDatasetOptions,
    dump_db: str,
    tokenizer: str,
    entity_vocab: str,
) -> DatasetMetadata:
    build_options = {
        **dataclasses.asdict(options),
        "sentence_splitter": inputs.splitter.name,
        "opennlp_model": options.resolved_opennlp_model,
        "dump_db": dump_db,
        "dump_db_build_id": inputs.db.meta.get("build_id"),
        "tokenizer": tokenizer,
        "entity_vocab": entity_vocab,
    }
    return DatasetMetadata(
        number_of_items=sum(s.items for s in shards),
        max_seq_length=options.max_seq_length,
        max_entity_length=options.max_entity_length,
        max_mention_length=options.max_mention_length,
        min_sentence_length=options.min_sentence_length,
        tokenizer_class=tokenizer_class_name(inputs.tokenizer),
        tokenizer_name=tokenizer,
        language=inputs.language,
        entity_vocab_size=len(inputs.vocab),
        word_vocab_size=len(inputs.tokenizer),
        shards=tuple(shards),
        tokenizer_sha256=tokenizer_sha256(inputs.tokenizer),
        build_options=build_options,
        summary=summary_dict(summary),
    )
