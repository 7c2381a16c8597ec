"""The model card (`README.md`) of an exported model: what it is, the data, the training
steps, the final metrics of the run, how to load it, and licence notes.

Everything comes from the run's files: `metadata.json` (model, datasets, options), the
checkpoint's marker (step, epoch, samples), `metrics.jsonl` (the last line at or before the
checkpoint's step; its values are means over the last logging interval) and, when they can
be read, the datasets' own metadata (dump, sizes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from luke_core import storage
from luke_core.errors import LukeError
from luke_core.export.tokenizer import PUBLISHED_MAX_ENTITY_LENGTH, PUBLISHED_MAX_MENTION_LENGTH
from luke_core.training.metrics import read_metrics

logger = logging.getLogger(__name__)

METRICS = (
    ("loss", "loss (masked words + masked entities)"),
    ("masked_lm_loss", "masked word loss"),
    ("masked_lm_accuracy", "masked word accuracy"),
    ("masked_entity_loss", "masked entity loss"),
    ("masked_entity_accuracy", "masked entity accuracy"),
    ("lr", "learning rate"),
)
BASE_LICENCES = {
    "roberta": "RoBERTa's weights were released by Facebook AI (fairseq) under the MIT licence",
    "xlm-roberta": "XLM-R's weights were released by Facebook AI (fairseq) under the MIT licence",
}


@dataclass(frozen=True, kw_only=True)
class CardFacts:
    """What the export knows about the model it wrote."""

    model_id: str
    tokenizer_class: str
    parameters: int
    vocab_size: int
    entity_vocab_size: int
    use_entity_aware_attention: bool
    lite: bool
    license: str | None = None


def render_model_card(sources, facts: CardFacts) -> str:
    """README.md for the export of `sources` (`checkpoint.ExportSources`)."""
    metadata, info = sources.metadata, sources.checkpoint
    datasets = _datasets(metadata)
    languages = sorted({d["language"] for d in datasets if d.get("language")})
    if not languages and metadata.get("language"):
        languages = [metadata["language"]]
    sections = [
        _front_matter(languages, facts),
        _introduction(metadata, facts),
        _model_table(metadata, facts),
        _data_section(datasets),
        _training_section(metadata, info),
        _results_section(sources.run_dir, info.step),
        _usage_section(facts),
        _licence_section(metadata, facts),
    ]
    return "\n\n".join(section.strip() for section in sections) + "\n"


def _front_matter(languages: list[str], facts: CardFacts) -> str:
    lines = ["---", "library_name: transformers", "pipeline_tag: fill-mask"]
    if languages:
        lines += ["language:", *(f"- {language}" for language in languages)]
    if facts.license:
        lines.append(f"license: {facts.license}")
    lines += ["tags:", "- luke", "- entity", "- knowledge", "- wikipedia"]
    lines += ["datasets:", "- wikipedia", "---"]
    return "\n".join(lines)


def _family(facts: CardFacts) -> str:
    return "mLUKE" if facts.tokenizer_class == "MLukeTokenizer" else "LUKE"


def _introduction(metadata: dict, facts: CardFacts) -> str:
    base = metadata["model_config"]["bert_model_name"]
    lite = (
        " This is the lite export: the entity embeddings are removed (only the special "
        "entities remain), so entities are given as `[MASK]` (or `[MASK2]`) and the model "
        "reads them from their mentions. Its entity vocabulary is `[PAD]` 0, `[UNK]` 1, "
        "`[MASK]` 2, `[MASK2]` 3: `[PAD]` stays on row 0, the row transformers treats as "
        "padding (`padding_idx`), so the tokenizer pads entities with the model's padding "
        "row. The lite models of Studio Ousia number them `[MASK]` 0, `[UNK]` 1, `[PAD]` 2, "
        "`[MASK2]` 3: there `[MASK]` is on the padding row, which fine-tuning never updates."
        if facts.lite
        else ""
    )
    return (
        f"# {facts.model_id}\n\n"
        f"A {_family(facts)} model (Language Understanding with Knowledge-based Embeddings): "
        f"{base} extended with entity embeddings and pretrained on Wikipedia to predict masked "
        f"words and masked entities, exported from a `luke pretrain` checkpoint.{lite}"
    )


def _model_table(metadata: dict, facts: CardFacts) -> str:
    config = metadata["model_config"]
    base = config["base_config"]
    shape = f"{base['num_hidden_layers']} / {base['hidden_size']} / {base['num_attention_heads']}"
    attention = (
        "on by default"
        if facts.use_entity_aware_attention
        else "off by default (its queries are saved: `use_entity_aware_attention=True` uses them)"
    )
    rows = [
        ("base model", f"`{config['bert_model_name']}` ({base.get('model_type')})"),
        ("layers / hidden size / heads", shape),
        ("parameters", f"{facts.parameters:,}"),
        ("word vocabulary", _word_vocabulary(base, facts)),
        ("entity vocabulary", f"{facts.entity_vocab_size:,} (with `[MASK2]`)"),
        ("entity embedding size", str(config["entity_emb_size"])),
        ("entity-aware attention", attention),
        ("tokenizer", f"`{facts.tokenizer_class}`"),
        ("sequence limits", _limits(metadata)),
    ]
    return "## Model\n\n" + _table(("property", "value"), rows)


def _word_vocabulary(base: dict, facts: CardFacts) -> str:
    run_words = base.get("vocab_size")
    if not isinstance(run_words, int) or facts.vocab_size <= run_words:
        return f"{facts.vocab_size:,}"
    return (
        f"{facts.vocab_size:,}: the {run_words:,} words of pretraining, then `<ent>`, `<ent2>` "
        "and, with transformers 5, the entity special tokens `[UNK]` `[PAD]` `[MASK]` "
        "`[MASK2]`, which its tokenizer adds as words (the published models, made with "
        "transformers 4, have `<ent>` and `<ent2>` only: 50,267 words for luke-base, whose "
        "files give 50,271 under transformers 5)"
    )


def _limits(metadata: dict) -> str:
    """What pretraining used and what the tokenizer pads and truncates to by default."""
    trained = ", ".join(
        f"{label} {metadata[key]:,}"
        for key, label in (
            ("max_seq_length", "words"),
            ("max_entity_length", "entities"),
            ("max_mention_length", "tokens per mention"),
        )
        if isinstance(metadata.get(key), int)
    )
    return (
        f"pretraining: {trained or 'not recorded'}; the tokenizer's defaults, as in the "
        f"published models: entities {PUBLISHED_MAX_ENTITY_LENGTH}, tokens per mention "
        f"{PUBLISHED_MAX_MENTION_LENGTH} (`max_entity_length`, `max_mention_length`)"
    )


def _datasets(metadata: dict) -> list[dict[str, Any]]:
    """Each dataset of the run: what the run recorded, completed from the dataset's own
    metadata.json when it is still readable."""
    out = []
    for entry in metadata.get("datasets") or []:
        found = dict(entry)
        uri = storage.join(entry["uri"], "metadata.json")
        try:
            own = storage.read_json(uri) if storage.is_file(uri) else {}
        except LukeError as exc:
            logger.warning("model card: cannot read %s (%s)", uri, exc)
            own = {}
        options = own.get("build_options") or {}
        summary = own.get("summary") or {}
        found.update(
            dump=options.get("dump_db"),
            max_seq_length=own.get("max_seq_length"),
            pages=summary.get("pages"),
            tokens=summary.get("tokens"),
            entities=summary.get("entities"),
        )
        out.append(found)
    return out


def _data_section(datasets: list[dict]) -> str:
    if not datasets:
        return "## Training data\n\nThe run's metadata lists no datasets."
    header = ("dataset", "language", "sequences", "tokens", "entity mentions", "dump database")
    rows = [
        (
            f"`{d['uri']}`",
            d.get("language") or "",
            _number(d.get("number_of_items")),
            _number(d.get("tokens")),
            _number(d.get("entities")),
            f"`{storage.basename(d['dump'])}`" if d.get("dump") else "",
        )
        for d in datasets
    ]
    return (
        "## Training data\n\nWikipedia articles, split into sentences, with their links as "
        "entity mentions (`luke build-wikipedia-pretraining-dataset`).\n\n" + _table(header, rows)
    )


def _training_section(metadata: dict, info) -> str:
    options = metadata.get("options") or {}
    deepspeed = metadata.get("deepspeed_config") or {}
    lr = ((deepspeed.get("optimizer") or {}).get("params") or {}).get("lr")
    trained = (
        "the entity parts only (stage 1, `--fix-bert-weights`)"
        if info.fix_bert_weights
        else "all weights"
    )
    resumed = metadata.get("resumed_from")
    masking = (
        f"words {options.get('masked_lm_prob')}, entities {options.get('masked_entity_prob')}, "
        + ("whole words" if options.get("whole_word_masking", True) else "subwords")
    )
    rows = [
        ("checkpoint", f"`{info.tag}`, saved {info.saved_at}"),
        ("trained", trained),
        ("started from", f"`{resumed}`" if resumed else "the base model"),
        ("optimizer steps", f"{info.step:,} of {_number(metadata.get('total_num_steps'))}"),
        ("epochs finished", str(info.epoch)),
        ("sequences seen", f"{info.samples:,}"),
        ("batch size", _number(deepspeed.get("train_batch_size"))),
        ("peak learning rate", str(lr) if lr is not None else ""),
        ("processes", _number(metadata.get("world_size"))),
        ("masking", masking),
    ]
    return "## Training\n\n" + _table(("property", "value"), rows)


def _results_section(run_dir: str, step: int) -> str:
    records = [r for r in read_metrics(run_dir) if r.get("step", 0) <= step]
    if not records:
        return "## Results\n\nThe run logged no metrics up to this checkpoint."
    last = records[-1]
    rows = [(label, _metric(last.get(key))) for key, label in METRICS if key in last]
    return (
        f"## Results\n\nThe run's metrics at step {last['step']:,} (means over the last "
        "logging interval, on the training data):\n\n" + _table(("metric", "value"), rows)
    )


def _usage_section(facts: CardFacts) -> str:
    name = facts.model_id
    if facts.tokenizer_class == "MLukeTokenizer":
        load = f'tokenizer = MLukeTokenizer.from_pretrained("{name}")'
        imports = "from transformers import LukeForMaskedLM, MLukeTokenizer"
    else:
        # pretraining text began every sentence after a space: RoBERTa's word-start form
        load = f'tokenizer = LukeTokenizer.from_pretrained("{name}", add_prefix_space=True)'
        imports = "from transformers import LukeForMaskedLM, LukeTokenizer"
    code = f"""```python
{imports}

{load}
model = LukeForMaskedLM.from_pretrained("{name}")

text = "Tokyo is the capital of Japan."
entity_spans = [(0, 5), (24, 29)]  # character spans of the mentions; entities start as [MASK]
inputs = tokenizer(text, entity_spans=entity_spans, return_tensors="pt")
outputs = model(**inputs)
id_to_entity = {{i: title for title, i in tokenizer.entity_vocab.items()}}
print([id_to_entity[i] for i in outputs.entity_logits[0].argmax(-1).tolist()])
```"""
    return (
        "## How to use\n\n"
        f"{code}\n\n`LukeModel.from_pretrained` gives the encoder alone (word and entity "
        "hidden states); the task classes (`LukeForEntityClassification`, "
        "`LukeForEntitySpanClassification`, ...) start from the same folder."
    )


def _licence_section(metadata: dict, facts: CardFacts) -> str:
    model_type = metadata["model_config"]["base_config"].get("model_type")
    base = BASE_LICENCES.get(model_type, "check the licence of the base model")
    chosen = (
        f"Published under `{facts.license}`."
        if facts.license
        else ("No licence was chosen at export (`--license`).")
    )
    base_name = metadata["model_config"]["bert_model_name"]
    return (
        "## Licence notes\n\n"
        f"{chosen} The weights derive from the base model `{base_name}` "
        f"({base}, if the run started from that release) and from Wikipedia text, which is "
        "licensed CC BY-SA 4.0 (older revisions also GFDL); the entity vocabulary consists of "
        "Wikipedia article titles. The original LUKE code and models of Studio Ousia are "
        "Apache-2.0. Check these terms before choosing the licence of a published model."
    )


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _number(value) -> str:
    return f"{value:,}" if isinstance(value, int) else ("" if value is None else str(value))


def _metric(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
