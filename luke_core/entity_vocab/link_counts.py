"""Link counts of a dump database, resolved to articles, in parallel (build-entity-vocab).

Two phases over one pool of forked processes, so that the work grows with the links and
the distinct targets, not with the number of processes:

1. count: each process counts the raw link targets (as stored: not redirect-resolved)
   of one contiguous shard of the pages (`DumpDB.shard_range`) and splits its Counter
   into one part per process by the title's hash;
2. resolve: the main process sums the parts of each partition, so it holds every
   distinct target once (memory bounded by the distinct targets), and each process
   resolves the distinct targets of one partition once: redirect chains followed,
   articles only. Resolution (two database look-ups per distinct target) is the larger
   part of the work; resolving per shard instead would repeat it for every popular
   target in every shard.

The main process sums the resolved counts: exact, and the same whatever the number of
processes. A title's partition is a stable hash of it (CRC-32), the same in every process
however the processes were started.
"""

from __future__ import annotations

import multiprocessing
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from luke_core.dump_db.database import DumpDB
from luke_core.parallel import process_context
from luke_core.progress import progress_bar

_REPORT_EVERY = 500  # pages (phase 1) or titles x 10 (phase 2) between progress updates
_done = None  # a counter shared with the workers (given to each at its start)


@dataclass(kw_only=True)
class LinkCounts:
    counts: Counter = field(default_factory=Counter)
    """Article -> number of links to it, through redirects."""
    pages: int = 0
    links: int = 0
    distinct_targets: int = 0
    """Distinct link targets as written (redirects, red links and articles)."""
    via_redirects: int = 0
    """Links whose target is a redirect to an article."""
    to_non_articles: int = 0
    """Links to missing pages, redirect loops, categories: not counted."""


def entity_check(db: DumpDB) -> Callable[[str], bool]:
    """A predicate: is this (resolved) title an article that may be an entity? The dump
    database holds namespace-0 articles only, so a category never is one; the name
    check is the reference's rule, kept as a second guard."""
    names = {"Category", db.namespaces().get(14) or "Category"}
    prefixes = tuple(f"{name}:" for name in names)
    return lambda title: not title.startswith(prefixes) and db.is_article(title)


def count_links(db: DumpDB, processes: int, *, progress: bool = True) -> LinkCounts:
    """Count every link of `db` with `processes` worker processes."""
    context = process_context()
    done = context.Value("q", 0)
    _share_counter(done)
    result = LinkCounts()
    with context.Pool(processes, initializer=_share_counter, initargs=(done,)) as pool:
        tasks = [(db, rank, processes) for rank in range(processes)]
        partitions: list[Counter] = [Counter() for _ in range(processes)]
        bar = progress_bar(
            total=db.page_count(), desc="count links", unit="page", disable=not progress
        )
        for shard in _with_progress(pool.imap_unordered(_count_shard, tasks), bar):
            result.pages += shard.pages
            result.links += shard.links
            for total, part in zip(partitions, shard.parts, strict=True):
                total.update(part)
        result.distinct_targets = sum(len(part) for part in partitions)
        _done.value = 0
        bar = progress_bar(
            total=result.distinct_targets, desc="resolve", unit="title", disable=not progress
        )
        tasks = [(db, part) for part in partitions]
        del partitions
        for part in _with_progress(pool.imap_unordered(_resolve_part, tasks), bar):
            result.counts.update(part.counts)
            result.via_redirects += part.via_redirects
            result.to_non_articles += part.to_non_articles
    return result


def _share_counter(counter) -> None:
    global _done
    _done = counter


def _with_progress(results, bar) -> Iterable:
    """Yield the pool's results while the bar follows the workers' shared counter."""
    with bar:
        while True:
            try:
                result = results.next(timeout=0.5)
            except multiprocessing.TimeoutError:
                bar.update(_done.value - bar.n)
                continue
            except StopIteration:
                return
            bar.update(_done.value - bar.n)
            yield result


@dataclass(slots=True)
class _ShardCounts:
    pages: int
    links: int
    parts: list[dict[str, int]]
    """Raw target counts, one dict per partition."""


def _count_shard(task: tuple[DumpDB, int, int]) -> _ShardCounts:
    """Worker, phase 1: raw target counts of one shard, split by partition."""
    db, rank, world_size = task
    raw: Counter = Counter()
    pages = links = 0
    for targets in db.iter_link_targets(rank, world_size):
        raw.update(targets)
        pages += 1
        links += len(targets)
        if pages % _REPORT_EVERY == 0:
            _report(_REPORT_EVERY)
    _report(pages % _REPORT_EVERY)
    db.close()
    parts: list[dict[str, int]] = [{} for _ in range(world_size)]
    for title, count in raw.items():
        parts[zlib.crc32(title.encode("utf-8")) % world_size][title] = count
    return _ShardCounts(pages, links, parts)


def _resolve_part(task: tuple[DumpDB, Counter]) -> LinkCounts:
    """Worker, phase 2: the distinct targets of one partition, resolved to articles."""
    db, raw = task
    is_entity = entity_check(db)
    out = LinkCounts()
    for done, (title, count) in enumerate(raw.items(), start=1):
        target = db.resolve_redirect(title)
        if not is_entity(target):
            out.to_non_articles += count
        else:
            out.counts[target] += count
            if target != title:
                out.via_redirects += count
        if done % (10 * _REPORT_EVERY) == 0:
            _report(10 * _REPORT_EVERY)
    _report(len(raw) % (10 * _REPORT_EVERY))
    db.close()
    return out


def _report(amount: int) -> None:
    if _done is not None and amount:
        with _done.get_lock():
            _done.value += amount
