"""Work units of the dataset build and the processes that run them.

The shuffled page order is cut into units of `pages_per_task` pages. A unit is processed
as a whole (one SQL query for its pages, one tokenizer batch call for its segments) and
gives `InstanceColumns`; the main process takes the results in unit order, so the output
is the same whatever the number of processes. At most a few units per process are in
flight, so memory does not grow with the dump.

Processes start by `fork` (the vocabulary is shared, not copied), except when this
process already runs a JVM: a forked child cannot use it, so then they start by `spawn`
and receive the context pickled. Each worker opens its own SQLite connection and starts
its own sentence splitter (and JVM) on its first unit.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass

from luke_core.dataset.building.columns import InstanceColumns
from luke_core.dataset.building.instances import InstanceBuilder, InstanceCounts, InstanceRules
from luke_core.dataset.building.sentences import SplitterSpec
from luke_core.dataset.building.tokenization import SegmentTokenizer
from luke_core.dump_db import DumpDB, Page
from luke_core.dump_db.database import decode_paragraphs
from luke_core.entity_vocab.vocab import EntityVocab
from luke_core.parallel import OrderedPool

UnitResult = tuple[InstanceColumns, InstanceCounts]


@dataclass
class UnitContext:
    """Everything a process needs to turn a unit of page ids into instances."""

    dump_db_path: str
    vocab: EntityVocab
    tokenizer: SegmentTokenizer
    splitter: SplitterSpec
    rules: InstanceRules


class UnitProcessor:
    def __init__(self, context: UnitContext):
        self.context = context
        self._db: DumpDB | None = None
        self._builder: InstanceBuilder | None = None

    def __call__(self, page_ids: Sequence[int]) -> UnitResult:
        if self._builder is None:
            self._db = DumpDB(self.context.dump_db_path)
            self._builder = InstanceBuilder(
                self.context.rules,
                self.context.vocab,
                self.context.tokenizer,
                self.context.splitter.create(),
                self._resolve_redirects,
            )
        assert self._db is not None
        return self._builder.build(fetch_pages(self._db, page_ids))

    def _resolve_redirects(self, titles: Collection[str]) -> dict[str, str]:
        assert self._db is not None
        return resolve_redirects(self._db, titles)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def fetch_pages(db: DumpDB, page_ids: Sequence[int]) -> list[Page]:
    """Pages by id, in the order given. (DumpDB reads by title or id range only; this
    reads its `pages` table, documented in dump_db/database.py, by id.)"""
    page_ids = [int(i) for i in page_ids]  # sqlite3 cannot bind numpy integers
    marks = ",".join("?" * len(page_ids))
    rows = db.conn.execute(
        f"SELECT id, title, is_disambiguation, paragraphs FROM pages WHERE id IN ({marks})",
        page_ids,
    )
    pages = {row[0]: Page(row[0], row[1], decode_paragraphs(row[3]), bool(row[2])) for row in rows}
    return [pages[i] for i in page_ids]


def resolve_redirects(db: DumpDB, titles: Collection[str]) -> dict[str, str]:
    """`{title: final target}` for the titles that are redirects (not in a loop): what
    `DumpDB.resolve_redirect` gives, in one query per 500 titles instead of one each."""
    titles = list(titles)
    out: dict[str, str] = {}
    for start in range(0, len(titles), 500):
        chunk = titles[start : start + 500]
        marks = ",".join("?" * len(chunk))
        out.update(
            db.conn.execute(
                f"SELECT title, resolved FROM redirects WHERE title IN ({marks}) "
                "AND resolved IS NOT NULL",
                chunk,
            )
        )
    return out


_processor: UnitProcessor | None = None


def _init_worker(context: UnitContext) -> None:
    global _processor
    # one tokenizer thread per process: the processes are the parallelism
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _processor = UnitProcessor(context)
    gc.freeze()  # a spawned worker has just unpickled the vocabulary: see _frozen_gc


@contextlib.contextmanager
def _frozen_gc() -> Iterator[None]:
    """Keep the objects that exist now (the vocabulary, the imported libraries: millions
    of objects with a real vocabulary) out of the cyclic garbage collector while units
    are processed. Units allocate many short-lived containers, which trigger collections
    that would otherwise rescan all of those every time (a third of the build's time on
    the enwiki sample). Forked workers inherit the frozen state, and the collector then
    no longer writes to the vocabulary's pages, which stay shared with the parent."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_unit(page_ids: Sequence[int]) -> UnitResult:
    assert _processor is not None
    return _processor(page_ids)


@contextlib.contextmanager
def _tokenizers_single_threaded() -> Iterator[None]:
    previous = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = previous


def process_units(
    context: UnitContext, units: Iterable[Sequence[int]], processes: int
) -> Iterator[UnitResult]:
    """Results of the units, in order; with one process, inline."""
    with _tokenizers_single_threaded(), _frozen_gc():
        if processes == 1:
            processor = UnitProcessor(context)
            try:
                yield from map(processor, units)
            finally:
                processor.close()
            return
        pool = OrderedPool(processes, initializer=_init_worker, initargs=(context,))
        with pool:
            yield from pool.map(_run_unit, units)
