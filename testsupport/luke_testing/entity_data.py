"""Synthetic inputs of the vocabulary step for tests and benchmarks: dump databases with
exactly known links, and Wikidata JSON dumps (small hand-written ones, or large ones
with realistic sitelinks and the labels/claims bulk that makes parsing cost real)."""

from __future__ import annotations

import bz2
import gzip
import itertools
import json
import random
from collections.abc import Iterable, Mapping, Sequence

from luke_core.dump_db.database import DumpDBWriter, encode_paragraphs, new_build_meta
from luke_core.dump_db.wikitext import Link, Paragraph

NAMESPACES = {"-2": "Media", "6": "File", "14": "Category"}


def page_paragraphs(targets: Sequence[str]) -> list[Paragraph]:
    """One paragraph whose links point at `targets`, in order (link text = target)."""
    text, links = "", []
    for target in targets:
        start = len(text)
        text += target
        links.append(Link(target, target, start, len(text)))
        text += " and "
    return [Paragraph(text or "No links.", tuple(links), True)]


def write_dump_db(
    path: str,
    pages: Mapping[str, Sequence[str]],
    redirects: Mapping[str, str] = (),
    *,
    language: str | None = "en",
) -> None:
    """A dump database whose articles are `pages` (title -> link targets, as stored:
    normalised, not redirect-resolved) and whose redirects are `redirects`."""
    writer = DumpDBWriter(path)
    for page_id, (title, targets) in enumerate(pages.items(), start=1):
        paragraphs = page_paragraphs(targets)
        writer.add_page(title, page_id, False, encode_paragraphs(paragraphs), len(targets))
    for title, target in dict(redirects).items():
        writer.add_redirect(title, target)
    writer.resolve_redirects()
    writer.finish(
        {
            **new_build_meta(),
            "language": language,
            "site": {"case": "first-letter", "language": language},
            "namespaces": NAMESPACES,
        }
    )


def write_zipf_dump_db(
    path: str, num_pages: int, links_per_page: int, *, seed: int = 0, exponent: float = 1.1
) -> int:
    """A dump database of `num_pages` articles, each with `links_per_page` links whose
    targets follow a Zipf-like law over the articles (plus 10% red links and 10% links
    through redirects), as in Wikipedia. Returns the number of links."""
    rng = random.Random(seed)
    titles = [f"Entity {i}" for i in range(num_pages)]
    cumulative = list(
        itertools.accumulate(1.0 / (rank + 1) ** exponent for rank in range(num_pages))
    )
    writer = DumpDBWriter(path)
    for page_id, title in enumerate(titles):
        targets = rng.choices(titles, cum_weights=cumulative, k=links_per_page)
        for i in range(0, len(targets), 10):
            targets[i] = f"Redirect to {targets[i]}"
        for i in range(5, len(targets), 10):
            targets[i] = f"Missing page {rng.randrange(num_pages * 10)}"
        paragraphs = page_paragraphs(targets)
        writer.add_page(title, page_id, False, encode_paragraphs(paragraphs), len(targets))
    for title in titles:
        writer.add_redirect(f"Redirect to {title}", title)
    writer.resolve_redirects()
    writer.finish({**new_build_meta(), "language": "en", "namespaces": NAMESPACES})
    return num_pages * links_per_page


def wikidata_item(qid: str | None, sitelinks: Mapping[str, str], **extra) -> dict:
    """An item as the dump writes it: sitelinks keyed by site, with site/title/badges."""
    item: dict = {"type": "item"}
    if qid is not None:
        item["id"] = qid
    item.update(extra)
    item["sitelinks"] = {
        site: {"site": site, "title": title, "badges": []} for site, title in sitelinks.items()
    }
    return item


def write_wikidata_dump(
    path: str,
    entities: Iterable[dict | str],
    *,
    compression: str | None = None,
    closing_bracket: bool = True,
    trailing_commas: bool = True,
) -> None:
    """A dump in the published layout: `[`, one entity per line (a dict, or a str written
    as is, for malformed lines), each but the last followed by a comma, `]`."""
    lines = [e if isinstance(e, str) else json.dumps(e, ensure_ascii=False) for e in entities]
    separator = ",\n" if trailing_commas else "\n"
    text = "[\n" + separator.join(lines) + "\n" + ("]\n" if closing_bracket else "")
    opener = {"bz2": bz2.open, "gzip": gzip.open, None: open}[compression]
    with opener(path, "wt", encoding="utf-8") as f:
        f.write(text)


# 130 language Wikipedias as in Wikidata's sitelinks, largest first, roughly.
_LANGUAGE_LIST = (
    "en ceb de sv fr nl ru es it arz pl ja zh vi war uk ar pt fa ca sr id ko no ce fi hu cs "
    "tr tt sh ro zh_min_nan eu ms eo he hy da bg cy sk azb uz et simple be kk min el hr lt "
    "gl az ur sl lld ka nn hi th ta bn la mk zh_yue ast lv af tg my mg mr bs oc sq nds ml "
    "be_x_old te br ky sw jv lmo new pnb vec ht pms ba lb su ku ga szl is fy cv ckb pa tl an "
    "wuu diq io sco vo yo ne ia kn gu als avk crh bar scn bpy qu mn nv xmf ban si ps frr os "
    "tum bat_smg roa_tara fiu_vro zh_classical cbk_zam nds_nl map_bms"
)
_LANGUAGES = tuple(_LANGUAGE_LIST.split(" "))
_SPECIAL_SITES = ("commonswiki", "specieswiki", "metawiki", "enwikiquote", "dewikivoyage")


def random_wikidata_entity(rng: random.Random, number: int) -> dict:
    """A realistic entity: most items have few Wikipedia sitelinks, a few have ~100;
    labels, descriptions, aliases and claims make the line about as heavy as real ones
    (~8 KB on average; the real dump's average is ~10-13 KB). One entity in 50 is a
    property (no sitelinks)."""
    qid = f"Q{number + 1}"
    if number % 50 == 49:
        return {"type": "property", "id": f"P{number}", "datatype": "string", "labels": {}}
    num_links = min(len(_LANGUAGES), int(rng.paretovariate(0.9)))
    languages = rng.sample(_LANGUAGES, num_links) if rng.random() < 0.7 else []
    sitelinks = {f"{lang}wiki": f"Title {number} in {lang}" for lang in languages}
    for site in rng.sample(_SPECIAL_SITES, rng.randrange(3)):
        sitelinks[site] = f"Other {number}"
    return wikidata_item(
        qid,
        sitelinks,
        labels=_texts(rng, number, "label"),
        descriptions=_texts(rng, number, "description"),
        aliases={k: [v] for k, v in _texts(rng, number, "alias").items()},
        claims=_claims(rng),
        lastrevid=rng.randrange(10**9),
    )


def _texts(rng: random.Random, number: int, what: str) -> dict:
    langs = rng.sample(_LANGUAGES, rng.randrange(1, 30))
    return {lang: {"language": lang, "value": f"{what} {number} {lang}"} for lang in langs}


def _claims(rng: random.Random) -> dict:
    claims = {}
    for _ in range(rng.randrange(1, 30)):
        prop = f"P{rng.randrange(1, 3000)}"
        claims[prop] = [
            {
                "mainsnak": {
                    "snaktype": "value",
                    "property": prop,
                    "datavalue": {
                        "value": {"entity-type": "item", "numeric-id": rng.randrange(10**7)},
                        "type": "wikibase-entityid",
                    },
                    "datatype": "wikibase-item",
                },
                "type": "statement",
                "id": f"Q{rng.randrange(10**7)}${rng.getrandbits(64):016x}",
                "rank": "normal",
                "references": [{"hash": f"{rng.getrandbits(160):040x}", "snaks": {}}],
            }
        ]
    return claims
