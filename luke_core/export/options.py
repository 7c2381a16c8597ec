"""`ExportOptions`, the options of `luke convert-to-huggingface` (in a module of their own:
the `luke` command reads their defaults at start-up, without the export's imports)."""

from __future__ import annotations

from dataclasses import dataclass

from luke_core.errors import LukeError
from luke_core.export.tokenizer import check_tokenizer_class
from luke_core.reuse import neutral


@dataclass(frozen=True, kw_only=True)
class ExportOptions:
    """Options of `luke convert-to-huggingface` (the reference's names where it had them)."""

    run_dir: str | None = None
    """The run folder: where a bare tag is looked up and the run files are (default: the
    checkpoint folder's parent)."""
    metadata_path: str | None = None
    """The run's metadata.json (default: in the run folder)."""
    entity_vocab_path: str | None = None
    """The entity vocabulary of the checkpoint's entity table (default: the run's)."""
    tokenizer_path: str | None = None
    """The tokenizer folder (default: the run's tokenizer/)."""
    tokenizer_class: str | None = None
    """`LukeTokenizer` or `MLukeTokenizer` (default: by the base model, RoBERTa or XLM-R)."""
    use_entity_aware_attention: bool = True
    """The exported config's `use_entity_aware_attention` (the reference's
    --set-entity-aware-attention-default); its query weights are saved either way."""
    remove_entity_embeddings: bool = False
    """The lite export: no entity table beyond the special entities."""
    model_name: str | None = None
    """The model's name in the card (its hub id, e.g. `org/luke-base-wiki`; default: the
    output folder's name)."""
    license: str | None = None
    """The card's licence field (a Hub licence id such as `apache-2.0`)."""
    reuse: bool = neutral(default=False)
    """Keep OUT_DIR when it was exported from the same checkpoint and run files (unchanged
    since) with the same options: see `luke_core.reuse`."""
    progress: bool = neutral(default=True)

    def __post_init__(self) -> None:
        if self.tokenizer_class is not None:
            check_tokenizer_class(self.tokenizer_class)
        if self.model_name is not None and not self.model_name.strip():
            raise LukeError("model_name must not be empty")
