"""Small synthetic Wikipedias for end-to-end runs of the mLUKE pipeline: the same places
described in several languages, their articles linked through Wikidata items, and an
XLM-R-style base model made from their text (nothing can come from a model hub here).

- `write_dumps`: one MediaWiki dump per language (luke_testing.mediawiki); every
  article links other places of its language with `[[Title]]` or `[[Title|text]]`.
- `write_wikidata`: the items' sitelinks as a Wikidata JSON dump.
- `save_xlmr_base_model`: a SentencePiece unigram model trained on the dumps' text with
  the `sentencepiece` library (unk 0, <s> 1, </s> 2, as XLM-R's; saved as
  `sentencepiece.bpe.model`, the name XLM-R gives its own unigram model), loaded by
  transformers as XLMRobertaTokenizer, and a tiny random XLMRobertaForMaskedLM beside it.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from luke_testing.entity_data import wikidata_item, write_wikidata_dump
from luke_testing.mediawiki import WikiPage, write_dump


@dataclass(frozen=True)
class Place:
    qid: str
    titles: dict[str, str]
    """Language -> the article's title in that Wikipedia."""


PLACES = (
    Place("Q64", {"en": "Berlin", "de": "Berlin"}),
    Place("Q183", {"en": "Germany", "de": "Deutschland"}),
    Place("Q90", {"en": "Paris", "de": "Paris"}),
    Place("Q142", {"en": "France", "de": "Frankreich"}),
    Place("Q584", {"en": "Rhine", "de": "Rhein"}),
    Place("Q46", {"en": "Europe", "de": "Europa"}),
    Place("Q1726", {"en": "Munich", "de": "München"}),
    Place("Q980", {"en": "Bavaria", "de": "Bayern"}),
    Place("Q456", {"en": "Lyon", "de": "Lyon"}),
    Place("Q1653", {"en": "Danube", "de": "Donau"}),
    Place("Q1741", {"en": "Vienna", "de": "Wien"}),
    Place("Q40", {"en": "Austria", "de": "Österreich"}),
    Place("Q19686", {"en": "River Thames"}),  # one language only
    Place("Q1684", {"de": "Spree"}),
)

SENTENCES = {
    "en": (
        "{a} is a well known place in [[{b}]].",
        "Many people travel from [[{b}]] to [[{c}]] every single year.",
        "The long history of {a} is closely tied to [[{b}]] and its people.",
        "{a} lies not far from [[{b}]] and from [[{c}]].",
        "In the old days, traders carried salt from [[{b}]] to {a}.",
        "Today a fast train links {a} with [[{b}]] in a few hours.",
        "The museums of {a} show art from [[{b}]] and from [[{c}|the region]].",
    ),
    "de": (
        "{a} ist ein bekannter Ort in [[{b}]].",
        "Viele Menschen reisen jedes Jahr von [[{b}]] nach [[{c}]].",
        "Die lange Geschichte von {a} ist eng mit [[{b}]] und seinen Menschen verbunden.",
        "{a} liegt nicht weit von [[{b}]] und von [[{c}]] entfernt.",
        "Früher brachten Händler Salz aus [[{b}]] nach {a}.",
        "Heute verbindet ein schneller Zug {a} in wenigen Stunden mit [[{b}]].",
        "Die Museen von {a} zeigen Kunst aus [[{b}]] und aus [[{c}|der Region]].",
    ),
}
_LINK = re.compile(r"\[\[([^\]|]+)(?:\|([^\]]*))?\]\]")


def articles(language: str, *, sentences: int = 24, seed: int = 0) -> list[WikiPage]:
    """The articles of one language: an abstract, then a section of `sentences` sentences,
    each linking one or two other places of that language."""
    rng = random.Random(f"{language}-{seed}")
    titles = [p.titles[language] for p in PLACES if language in p.titles]
    pages = []
    for title in titles:
        others = [t for t in titles if t != title]
        lines = []
        for _ in range(sentences):
            b, c = rng.sample(others, 2)
            lines.append(rng.choice(SENTENCES[language]).format(a=title, b=b, c=c))
        lines[0] = lines[0].replace(title, f"'''{title}'''", 1)
        heading = "History" if language == "en" else "Geschichte"
        abstract, body = lines[: sentences // 4], lines[sentences // 4 :]
        text = " ".join(abstract) + f"\n\n== {heading} ==\n" + " ".join(body)
        pages.append(WikiPage(title=title, text=text))
    return pages


def write_dumps(folder: str, languages: Sequence[str], **kwargs) -> dict[str, str]:
    """`{folder}/{language}wiki-pages-articles.xml.bz2` per language -> its path."""
    os.makedirs(folder, exist_ok=True)
    dumps = {}
    for language in languages:
        path = os.path.join(folder, f"{language}wiki-pages-articles.xml.bz2")
        write_dump(
            path,
            articles(language, **kwargs),
            compression="bz2",
            language=language,
            dbname=f"{language}wiki",
        )
        dumps[language] = path
    return dumps


def write_wikidata(path: str) -> str:
    """The places' sitelinks, plus an item without any (as the real dump has)."""
    items = [
        wikidata_item(p.qid, {f"{lang}wiki": t for lang, t in p.titles.items()}) for p in PLACES
    ]
    items.append(wikidata_item("Q1", {"commonswiki": "Universe"}))
    write_wikidata_dump(path, items, compression="bz2")
    return path


def plain_text(language: str, **kwargs) -> list[str]:
    """The articles' text as readers see it (links by their text, markup dropped)."""
    lines = []
    for page in articles(language, **kwargs):
        text = _LINK.sub(lambda m: m.group(2) or m.group(1), page.text)
        lines += [line.replace("'''", "") for line in text.splitlines() if line.strip()]
    return lines


def train_sentencepiece(texts: Sequence[str], folder: str, *, vocab_size: int = 600) -> str:
    """A unigram SentencePiece model of the texts as `{folder}/sentencepiece.bpe.model`, ids
    laid out as XLM-R's (<unk> 0, <s> 1, </s> 2; transformers adds <pad> and the fairseq
    offset). `@` and `#` are pieces: the export starts `<ent>` / `<ent2>` from them."""
    import io

    import sentencepiece

    os.makedirs(folder, exist_ok=True)
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        model_type="unigram",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        user_defined_symbols=["@", "#"],
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
    )
    path = os.path.join(folder, "sentencepiece.bpe.model")
    with open(path, "wb") as f:
        f.write(model.getvalue())
    return path


def save_xlmr_base_model(
    folder: str, texts: Sequence[str], *, hidden_size: int = 32, max_seq_length: int = 128
) -> str:
    """A base model folder `--bert-model-name` loads like xlm-roberta-base: the tokenizer
    trained on `texts` and a tiny random XLM-R (MLM head and pooler, as a full checkpoint)."""
    import torch
    from transformers import (
        XLMRobertaConfig,
        XLMRobertaForMaskedLM,
        XLMRobertaModel,
        XLMRobertaTokenizer,
    )

    train_sentencepiece(texts, folder)
    tokenizer = XLMRobertaTokenizer.from_pretrained(folder)
    tokenizer.model_max_length = max_seq_length
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=max_seq_length + 2,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = XLMRobertaForMaskedLM(config)
    model.roberta.pooler = XLMRobertaModel(config, add_pooling_layer=True).pooler
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
