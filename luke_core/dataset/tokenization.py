"""Tokenisation of paragraph segments with the reference's rules, on a fast tokenizer.

The builder cuts each sentence into segments (the text between links and each link's
text) and tokenises them separately, so that a mention starts and ends on token
boundaries. Whether a segment is tokenised as the start of a word depends on what
precedes it, as in the reference (which used the slow tokenizers of transformers 4):

- whitespace runs collapse to one space and trailing whitespace is dropped;
- RoBERTa (byte-level BPE): a segment gets a prefix space when the builder says it
  follows a space (it starts the paragraph, follows a space, or is a link with no text
  before it in its sentence: see `instances.py`) or it starts with whitespace itself;
  otherwise it is encoded as it is, so "[[Paris]]ian" gives "ĠParis" + "ian";
- XLM-R (SentencePiece): a segment that gets no prefix space is encoded as "龘" + text
  and the pieces of the marker dropped: "▁" and "龘" (an unknown character, id <unk>).
  The reference dropped exactly two pieces; when the segment itself starts with unknown
  characters SentencePiece fuses them with the marker into one <unk>, which the
  reference dropped with the marker. Here that fused <unk> is kept, so no character of
  the segment is lost.

All segments of a work unit go through one batch call of the Rust tokenizer. Special
tokens are not recognised inside text: a Wikipedia sentence that says "<mask>" gets the
tokens of those characters (the slow tokenizers turned it into the mask token).
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import shutil
from collections.abc import Sequence

from tokenizers import Tokenizer

from luke_core import storage
from luke_core.errors import LukeError

logger = logging.getLogger(__name__)

BYTE_LEVEL_BPE = "byte_level_bpe"
SENTENCEPIECE = "sentencepiece"
XLMR_MARKER = "龘"
_CONFIG_FILES = ("tokenizer.json", "tokenizer_config.json", "config.json")
# files a folder may hold without a config naming the class; the class that reads them
_FALLBACK_CLASSES = (
    (("sentencepiece.bpe.model",), "XLMRobertaTokenizer"),
    (("vocab.json", "merges.txt"), "RobertaTokenizer"),
)


def load_tokenizer(name: str):
    """A fast Hugging Face tokenizer from a hub name, a local folder or an s3:// folder.

    A folder with only the original files (vocab.json + merges.txt, or
    sentencepiece.bpe.model) and no config loads as RoBERTa or XLM-R respectively."""
    import transformers

    path = _local_folder(name)
    if _is_path(name):
        _check_folder(name, path)
        if not any(os.path.isfile(os.path.join(path, f)) for f in _CONFIG_FILES):
            tokenizer = _load_by_files(path)
            if tokenizer is not None:
                return _checked(tokenizer, name)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, KeyError) as exc:
        raise LukeError(f"{name}: cannot load a tokenizer ({_first_line(exc)})") from None
    return _checked(tokenizer, name)


def _checked(tokenizer, name: str):
    if not getattr(tokenizer, "is_fast", False):
        raise LukeError(f"{name}: {type(tokenizer).__name__} is no fast tokenizer")
    tokenizer_scheme(tokenizer, name)
    return tokenizer


def _is_path(name: str) -> bool:
    """A local or S3 folder rather than a hub name (`org/model`)."""
    return (
        storage.is_s3(name)
        or os.path.isabs(name)
        or name.startswith((".", "~"))
        or os.path.exists(name)
    )


def _check_folder(name: str, path: str) -> None:
    if not os.path.isdir(path):
        raise LukeError(f"{name}: tokenizer folder not found")
    known = _CONFIG_FILES + tuple(f for files, _ in _FALLBACK_CLASSES for f in files)
    if not any(os.path.isfile(os.path.join(path, f)) for f in known):
        raise LukeError(
            f"{name}: no tokenizer files in this folder (expected tokenizer.json, "
            "vocab.json and merges.txt, or sentencepiece.bpe.model)"
        )


def _local_folder(name: str) -> str:
    if not storage.is_s3(name):
        return os.path.expanduser(name)
    if not storage.exists(name):
        raise LukeError(f"{name}: tokenizer folder not found")
    target = storage.cache_dir() / "tokenizers" / name[len(storage.S3_PREFIX) :].strip("/")
    storage.download_dir(name, str(target))
    return str(target)


def _load_by_files(path: str):
    import transformers

    for files, class_name in _FALLBACK_CLASSES:
        if all(os.path.isfile(os.path.join(path, f)) for f in files):
            try:
                return getattr(transformers, class_name).from_pretrained(path)
            except (OSError, ValueError) as exc:
                raise LukeError(f"{path}: cannot load as {class_name} ({exc})") from None
    return None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def tokenizer_scheme(tokenizer, name: str = "") -> str:
    """Which of the reference's two segment rules applies, from the tokenizer's pipeline."""
    pre = repr(tokenizer.backend_tokenizer.pre_tokenizer)
    if "ByteLevel" in pre:
        return BYTE_LEVEL_BPE
    if "Metaspace" in pre:
        return SENTENCEPIECE
    raise LukeError(
        f"{name or tokenizer.name_or_path}: {type(tokenizer).__name__} is neither a byte-level "
        "BPE (RoBERTa) nor a SentencePiece (XLM-R) tokenizer, the two LUKE is trained with"
    )


def tokenizer_class_name(tokenizer) -> str:
    """The class name the reference records (`RobertaTokenizer`, `XLMRobertaTokenizer`)."""
    name = type(tokenizer).__name__
    return name.removesuffix("Fast")


Segment = tuple[str, bool]
"""A piece of a sentence's text and whether it starts a word: it follows a space, starts
the paragraph, or is a link with no text before it in its sentence (`instances.py`)."""


class SegmentTokenizer:
    """Encodes sentences cut into segments with the reference's rules.

    A sentence goes to the Rust tokenizer as a pre-tokenized sequence of its segments:
    each segment is normalised, pre-tokenized and encoded on its own, exactly as if it
    were encoded separately, but with one encoding object per sentence instead of one per
    segment. Holds only the Rust tokenizer, so it pickles cheaply into worker processes."""

    def __init__(self, tokenizer):
        self.scheme = tokenizer_scheme(tokenizer)
        serialized = tokenizer.backend_tokenizer.to_str()
        if self.scheme == SENTENCEPIECE:
            serialized = _unmatchable_special_pieces(serialized, tokenizer.all_special_tokens)
        self.backend = Tokenizer.from_str(serialized)
        self.backend.encode_special_tokens = True
        if self.scheme == BYTE_LEVEL_BPE:
            # the prefix space is decided per segment below, never by the tokenizer
            self.backend.pre_tokenizer.add_prefix_space = False

    def encode_segments(self, segments: Sequence[Segment]) -> list[list[int]]:
        """Token ids of each segment of one sentence."""
        ids, bounds = self.encode([segments])[0]
        return [ids[bounds[i] : bounds[i + 1]] for i in range(len(segments))]

    def encode(self, sentences: Sequence[Sequence[Segment]]) -> list[tuple[list[int], list[int]]]:
        """Per sentence, its token ids and segment bounds: segment i has the tokens
        `ids[bounds[i]:bounds[i + 1]]` (empty for a whitespace-only segment)."""
        batch: list[list[str]] = []
        layouts: list[tuple[list[int], list[bool] | None]] = []
        for segments in sentences:
            pieces, first_piece, marked = self._pieces(segments)
            batch.append(pieces)
            layouts.append((first_piece, marked))
        nonempty = [pieces for pieces in batch if pieces]
        encodings = iter(
            self.backend.encode_batch(nonempty, is_pretokenized=True, add_special_tokens=False)
            if nonempty
            else []
        )
        out = []
        for pieces, (first_piece, marked) in zip(batch, layouts, strict=True):
            if not pieces:
                out.append(([], [0] * len(first_piece)))
                continue
            out.append(_ids_and_bounds(next(encodings), first_piece, marked))
        return out

    def _pieces(
        self, segments: Sequence[Segment]
    ) -> tuple[list[str], list[int], list[bool] | None]:
        """The normalised pieces of the non-empty segments, for each segment (plus one
        past the end) the index of the first piece at or after it, and for XLM-R which
        pieces carry the marker."""
        pieces: list[str] = []
        first_piece: list[int] = []
        marked: list[bool] | None = None
        for text, follows_space in segments:
            first_piece.append(len(pieces))
            core = " ".join(text.split())
            if not core:
                continue
            prefix = follows_space or text[0].isspace()
            if self.scheme == BYTE_LEVEL_BPE:
                pieces.append(" " + core if prefix else core)
                continue
            if marked is None:
                marked = [False] * len(pieces)
            pieces.append(core if prefix else XLMR_MARKER + core)
            marked.append(not prefix)
        first_piece.append(len(pieces))
        if marked is not None and not any(marked):
            marked = None
        return pieces, first_piece, marked


def _unmatchable_special_pieces(serialized: str, special_tokens: Sequence[str]) -> str:
    """The converted XLM-R tokenizer lists `<s>`, `</s>`, `<unk>`, `<mask>`... as ordinary
    Unigram pieces, so text spelling them would become those ids; SentencePiece never
    matches its control symbols in text. Renaming these pieces (their ids stay) makes the
    Rust tokenizer do the same."""
    data = json.loads(serialized)
    model = data.get("model", {})
    if model.get("type") == "Unigram":
        specials = set(special_tokens)
        for entry in model["vocab"]:
            if entry[0] in specials:
                entry[0] = f"\u0000{entry[0]}\u0000"
    return json.dumps(data, ensure_ascii=False)


def _ids_and_bounds(
    encoding, first_piece: list[int], marked: list[bool] | None
) -> tuple[list[int], list[int]]:
    ids = encoding.ids
    if marked is None and first_piece[-1] == 1:  # one piece, nothing to locate
        return ids, [0 if p == 0 else len(ids) for p in first_piece]
    words = encoding.word_ids
    if marked is not None:
        # drop the marker's pieces: at the start of a marked piece, ending by offset 1
        keep = [
            i
            for i, (word, (_, end)) in enumerate(zip(words, encoding.offsets, strict=True))
            if not (marked[word] and end <= len(XLMR_MARKER))
        ]
        ids = [ids[i] for i in keep]
        words = [words[i] for i in keep]
    return ids, [bisect.bisect_left(words, p) for p in first_piece]


def save_tokenizer(tokenizer, directory: str) -> None:
    """Write the tokenizer so that `AutoTokenizer.from_pretrained(directory)` reloads it,
    plus the original vocabulary files the Hugging Face export needs (LukeTokenizer reads
    vocab.json and merges.txt, MLukeTokenizer sentencepiece.bpe.model)."""
    tokenizer.save_pretrained(directory)
    copied = set()
    for key in ("vocab_file", "merges_file"):
        source = tokenizer.init_kwargs.get(key)
        if isinstance(source, str) and os.path.isfile(source):
            shutil.copyfile(source, os.path.join(directory, os.path.basename(source)))
            copied.add(os.path.basename(source))
    if tokenizer_scheme(tokenizer) == BYTE_LEVEL_BPE and "vocab.json" not in copied:
        # a tokenizer.json-only tokenizer: its BPE model writes vocab.json and merges.txt
        tokenizer.backend_tokenizer.model.save(directory)
    if tokenizer_scheme(tokenizer) == SENTENCEPIECE and not copied:
        logger.warning(
            "the tokenizer came without its sentencepiece.bpe.model; the dataset's tokenizer/ "
            "holds tokenizer.json only"
        )
