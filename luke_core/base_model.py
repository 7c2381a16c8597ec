"""The base model of the `tiny` preset, made locally (nothing can come from a model hub on a
laptop or here): `make_local_base_model` trains a RoBERTa byte-level BPE tokenizer on a sample
dump's own text with `tokenizers` and saves a small randomly initialised RoBERTa beside it, as
a folder that `--bert-model-name` and `AutoTokenizer` load like `roberta-base`.

`random_base_config` and `save_random_base_model` are the one definition of such a model
(sizes from `luke_core.presets.TINY_BASE` unless told otherwise), also for the tests and the
benchmarks."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

from luke_core import storage
from luke_core.dump_db.reader import DumpReader
from luke_core.dump_db.wikitext import parse_wikitext
from luke_core.errors import LukeError
from luke_core.presets import TINY_BASE

logger = logging.getLogger(__name__)

ROBERTA_SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


@dataclass(frozen=True, kw_only=True)
class LocalBaseModelOptions:
    vocab_size: int = 8000
    """Of the tokenizer trained on the sample."""
    hidden_size: int = TINY_BASE.hidden_size
    num_hidden_layers: int = TINY_BASE.num_hidden_layers
    num_attention_heads: int = TINY_BASE.num_attention_heads
    intermediate_size: int = TINY_BASE.intermediate_size
    max_seq_length: int = TINY_BASE.max_seq_length
    max_articles: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.vocab_size < 300:
            raise LukeError(f"a byte-level BPE vocabulary needs >= 300 ids, not {self.vocab_size}")
        if self.hidden_size % self.num_attention_heads:
            raise LukeError("hidden size must be a multiple of the attention heads")


def article_texts(dump: str, max_articles: int) -> Iterator[str]:
    """Plain paragraphs of the dump's first articles (the dump database's rules)."""
    with DumpReader(dump) as reader:
        seen = 0
        for page in reader.pages():
            if page.namespace != 0 or page.redirect or page.text.lstrip().startswith("#"):
                continue
            for paragraph in parse_wikitext(page.text).paragraphs:
                yield paragraph.text
            seen += 1
            if seen >= max_articles:
                return


def make_local_base_model(dump: str, out_dir: str, options: LocalBaseModelOptions) -> str:
    """Train the tokenizer on `dump` and save tokenizer + random RoBERTa to `out_dir`."""
    earlier = storage.EarlierOutput("config.json", "model_type", "roberta", "a base model folder")
    with storage.output_dir(out_dir, replaces=earlier) as tmp:
        texts = list(article_texts(dump, options.max_articles))
        if not texts:
            raise LukeError(f"{dump}: no article text to train a tokenizer on")
        _train_tokenizer(texts, tmp, options)
        _save_random_roberta(tmp, options)
    logger.info("base model with a %d-id tokenizer written to %s", options.vocab_size, out_dir)
    return out_dir


def _train_tokenizer(texts: list[str], folder: str, options: LocalBaseModelOptions) -> None:
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train_from_iterator(
        texts,
        vocab_size=options.vocab_size,
        min_frequency=2,
        special_tokens=list(ROBERTA_SPECIAL_TOKENS),
        show_progress=False,
    )
    bpe.save_model(folder)  # vocab.json and merges.txt, as roberta-base ships them


def _save_random_roberta(folder: str, options: LocalBaseModelOptions) -> None:
    from transformers import AutoTokenizer

    with open(os.path.join(folder, "vocab.json")) as f:
        vocab_size = len(json.load(f))
    config = random_base_config(
        vocab_size=vocab_size,
        hidden_size=options.hidden_size,
        num_hidden_layers=options.num_hidden_layers,
        num_attention_heads=options.num_attention_heads,
        intermediate_size=options.intermediate_size,
        max_seq_length=options.max_seq_length,
    )
    save_random_base_model(folder, config, seed=options.seed)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.model_max_length = options.max_seq_length
    tokenizer.save_pretrained(folder)


def random_base_config(
    *,
    model_type: str = "roberta",
    vocab_size: int,
    hidden_size: int = TINY_BASE.hidden_size,
    num_hidden_layers: int = TINY_BASE.num_hidden_layers,
    num_attention_heads: int = TINY_BASE.num_attention_heads,
    intermediate_size: int = TINY_BASE.intermediate_size,
    max_seq_length: int = TINY_BASE.max_seq_length,
    **overrides,
):
    """A RoBERTa (or XLM-R: `model_type="xlm-roberta"`) config whose position table covers
    `max_seq_length` words (+ the padding offset), with RoBERTa's special token ids."""
    from transformers import AutoConfig

    return AutoConfig.for_model(
        model_type,
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_seq_length + 2,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        **overrides,
    )


def save_random_base_model(folder: str, config, *, seed: int = 0) -> str:
    """Save a randomly initialised masked-LM base model of `config` to `folder`, with the
    pooler a full pretrained checkpoint has (the masked-LM class leaves it out, and LUKE
    takes it over)."""
    import torch
    from transformers import AutoModel, AutoModelForMaskedLM

    torch.manual_seed(seed)
    model = AutoModelForMaskedLM.from_config(config)
    base = getattr(model, model.base_model_prefix)
    base.pooler = AutoModel.from_config(config, add_pooling_layer=True).pooler
    model.save_pretrained(folder)
    return folder
