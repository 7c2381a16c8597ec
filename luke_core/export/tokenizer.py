"""The exported tokenizer: `LukeTokenizer` (RoBERTa's byte-level BPE) or `MLukeTokenizer`
(XLM-R's SentencePiece), with the run's word vocabulary and the exported entity vocabulary.

The folder holds what transformers 5 writes (`tokenizer.json`, `tokenizer_config.json`) and
the original files every version of the two classes reads: `vocab.json` + `merges.txt`
(LUKE) or `sentencepiece.bpe.model` (mLUKE), and `entity_vocab.json`.

- A run's `tokenizer/` may hold only `tokenizer.json` (transformers 5's `save_pretrained`):
  `vocab.json` and `merges.txt` are then written from its BPE model, which is what they
  hold (the same files as the originals, byte for byte, for roberta-base).
- `sentencepiece.bpe.model` cannot be recovered from `tokenizer.json`: an mLUKE export
  needs it in the tokenizer folder (the dataset builder copies it there).
- The classes are built with `from_pretrained` on a staging folder (transformers 5's
  `LukeTokenizer(vocab_file=..., merges_file=...)` ignores both arguments). The mLUKE
  staging folder carries XLM-R's `tokenizer.json`: built from the SentencePiece file
  alone, transformers 5's `MLukeTokenizer` numbers the pieces without XLM-R's offset.
- Both classes add `<ent>` and `<ent2>` themselves, after the word vocabulary. Every word
  of the run's tokenizer must keep its id; the export checks that. transformers 5 also
  registers the entity special tokens `[UNK]` `[PAD]` `[MASK]` `[MASK2]` as words, so a
  roberta-base folder has 50,271 words (50,265 + 6), as the published `studio-ousia/luke-base`
  files have when transformers 5 loads them.
- `max_entity_length` and `max_mention_length` are those of the published LUKE and mLUKE
  tokenizers (32 and 30), not the pretraining's (128 entities per sequence): they are the
  defaults of padding and truncation when users fine-tune, and the published models set
  them so. The model card records the pretraining's values.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass

from luke_core import storage
from luke_core.dataset.tokenizers import (
    BYTE_LEVEL_BPE,
    SENTENCEPIECE,
    load_tokenizer,
    tokenizer_scheme,
)
from luke_core.errors import LukeError

TOKENIZER_CLASSES = {"LukeTokenizer": BYTE_LEVEL_BPE, "MLukeTokenizer": SENTENCEPIECE}
CLASS_OF_MODEL_TYPE = {"roberta": "LukeTokenizer", "xlm-roberta": "MLukeTokenizer"}
SPM_FILE = "sentencepiece.bpe.model"
BPE_FILES = ("vocab.json", "merges.txt")
ENTITY_VOCAB_JSON = "entity_vocab.json"
CONFIG_FILE = "tokenizer_config.json"
# the tokens <ent> and <ent2> start as these words (transformers' conversion scripts)
ENTITY_TOKEN_SOURCES = {"entity_1_token": "@", "entity_2_token": "#"}
# tokenizer_config.json of studio-ousia/luke-base, luke-large, mluke-base, mluke-large
PUBLISHED_MAX_ENTITY_LENGTH = 32
PUBLISHED_MAX_MENTION_LENGTH = 30
# RoBERTa's and XLM-R's <mask> takes the space before it ("Tokyo is the <mask>." masks
# " capital"), as in the published LUKE and mLUKE tokenizers; transformers 5 builds it
# without when no tokenizer.json says so
PUBLISHED_MASK_TOKEN = {
    "__type": "AddedToken",  # what transformers reads as an AddedToken in tokenizer_config.json
    "content": "<mask>",
    "lstrip": True,
    "rstrip": False,
    "normalized": True,
    "single_word": False,
    "special": True,
}


@dataclass(frozen=True)
class ExportedTokenizer:
    tokenizer_class: str
    new_word_rows: dict[int, int]
    """Word ids beyond the run's vocabulary -> the id of the word whose embedding they start
    as: `<ent>` / `<ent2>` as `@` / `#`, and the entity special tokens transformers 5 also
    registers as words (`[MASK]` in a text would else be an id the model lacks)."""
    size: int
    """len(tokenizer): word ids it can produce."""


def check_tokenizer_class(name: str) -> str:
    if name not in TOKENIZER_CLASSES:
        raise LukeError(
            f"unknown tokenizer class {name!r}: expected {' or '.join(TOKENIZER_CLASSES)}"
        )
    return name


def default_tokenizer_class(model_type: str, source: str) -> str:
    if model_type not in CLASS_OF_MODEL_TYPE:
        raise LukeError(f"{source}: no LUKE tokenizer class for a {model_type!r} model")
    return CLASS_OF_MODEL_TYPE[model_type]


def export_tokenizer(
    source_uri: str,
    out_dir: str,
    *,
    tokenizer_class: str,
    entity_vocab: dict[str, int],
    model_max_length: int,
) -> ExportedTokenizer:
    """Write the tokenizer files into `out_dir` (a local folder)."""
    with tempfile.TemporaryDirectory(prefix="luke-tokenizer-") as scratch:
        source_dir = _local_folder(source_uri, os.path.join(scratch, "source"))
        source = load_tokenizer(source_dir)
        _check_scheme(source, source_uri, tokenizer_class)
        staging = os.path.join(scratch, "staging")
        os.makedirs(staging)
        original_files = _write_original_files(source, source_dir, source_uri, staging)
        settings = {
            "tokenizer_class": tokenizer_class,
            "max_entity_length": PUBLISHED_MAX_ENTITY_LENGTH,
            "max_mention_length": PUBLISHED_MAX_MENTION_LENGTH,
            "model_max_length": model_max_length,
            "mask_token": PUBLISHED_MASK_TOKEN,
        }
        _write_json(os.path.join(staging, CONFIG_FILE), settings)
        _write_json(os.path.join(staging, ENTITY_VOCAB_JSON), entity_vocab)
        exported = _load_class(tokenizer_class, staging)
        _check_same_words(source, exported, source_uri)
        exported.save_pretrained(out_dir)
        for name in original_files:
            shutil.copyfile(os.path.join(staging, name), os.path.join(out_dir, name))
    _write_json(os.path.join(out_dir, ENTITY_VOCAB_JSON), entity_vocab)
    _tidy_config(os.path.join(out_dir, CONFIG_FILE))
    rows = {**_other_new_words(exported, len(source)), **_entity_token_ids(exported)}
    return ExportedTokenizer(tokenizer_class, rows, len(exported))


def _local_folder(uri: str, target: str) -> str:
    if not storage.is_s3(uri):
        return uri
    storage.download_dir(uri, target)
    return target


def _check_scheme(source, source_uri: str, tokenizer_class: str) -> None:
    scheme = tokenizer_scheme(source, source_uri)
    if scheme != TOKENIZER_CLASSES[tokenizer_class]:
        kinds = {
            BYTE_LEVEL_BPE: "a byte-level BPE (RoBERTa)",
            SENTENCEPIECE: "a SentencePiece (XLM-R)",
        }
        raise LukeError(
            f"{source_uri}: {tokenizer_class} needs {kinds[TOKENIZER_CLASSES[tokenizer_class]]} "
            f"tokenizer, this one is {kinds[scheme]}"
        )


def _write_original_files(source, source_dir: str, source_uri: str, staging: str) -> list[str]:
    """vocab.json + merges.txt, or sentencepiece.bpe.model plus XLM-R's tokenizer.json."""
    if tokenizer_scheme(source) == BYTE_LEVEL_BPE:
        if all(os.path.isfile(os.path.join(source_dir, name)) for name in BPE_FILES):
            for name in BPE_FILES:
                shutil.copyfile(os.path.join(source_dir, name), os.path.join(staging, name))
        else:
            source.backend_tokenizer.model.save(staging)  # writes vocab.json, merges.txt
        return list(BPE_FILES)
    spm = os.path.join(source_dir, SPM_FILE)
    if not os.path.isfile(spm):
        raise LukeError(
            f"{source_uri}: no {SPM_FILE}; MLukeTokenizer needs XLM-R's SentencePiece model "
            "(the dataset builder copies it into the dataset's tokenizer/ folder; "
            "--tokenizer-path names a folder that has it)"
        )
    shutil.copyfile(spm, os.path.join(staging, SPM_FILE))
    source.backend_tokenizer.save(os.path.join(staging, "tokenizer.json"))
    return [SPM_FILE]


def _load_class(tokenizer_class: str, folder: str):
    import transformers

    try:
        return getattr(transformers, tokenizer_class).from_pretrained(folder)
    except (OSError, ValueError, KeyError) as exc:
        raise LukeError(f"cannot build the {tokenizer_class} ({exc})") from None


def _check_same_words(source, exported, source_uri: str) -> None:
    theirs = exported.get_vocab()
    moved = [
        (word, i, theirs.get(word))
        for word, i in source.get_vocab().items()
        if theirs.get(word) != i
    ]
    if moved:
        examples = ", ".join(f"{w!r} {i} -> {j}" for w, i, j in moved[:5])
        raise LukeError(
            f"{source_uri}: the exported tokenizer gives {len(moved)} words other ids than the "
            f"run's tokenizer ({examples})"
        )


def _entity_token_ids(tokenizer) -> dict[int, int]:
    """<ent> / <ent2> id -> id of `@` / `#` (the tokens' names as the class sets them)."""
    copies = {}
    for attribute, word in ENTITY_TOKEN_SOURCES.items():
        token = str(getattr(tokenizer, attribute))
        new_id, source_id = tokenizer.convert_tokens_to_ids([token, word])
        if source_id == tokenizer.unk_token_id:
            raise LukeError(f"the tokenizer has no word {word!r} to start {token} from")
        copies[new_id] = source_id
    return copies


def _other_new_words(tokenizer, run_vocab_size: int) -> dict[int, int]:
    """Added word ids past the run's vocabulary -> the word of the same role (unknown,
    padding, mask), else the unknown word."""
    roles = {
        "[UNK]": tokenizer.unk_token_id,
        "[PAD]": tokenizer.pad_token_id,
        "[MASK]": tokenizer.mask_token_id,
        "[MASK2]": tokenizer.mask_token_id,
    }
    return {
        new_id: roles.get(str(token), tokenizer.unk_token_id)
        for new_id, token in tokenizer.added_tokens_decoder.items()
        if new_id >= run_vocab_size
    }


def _tidy_config(path: str) -> None:
    """transformers 5 copies the entity vocabulary into tokenizer_config.json (a million
    entries for mLUKE); entity_vocab.json holds it, as every version reads it from there."""
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    config.pop("entity_vocab", None)
    _write_json(path, config)


def _write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")
