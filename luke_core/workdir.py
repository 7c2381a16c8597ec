"""`WorkDir`: where a pipeline run keeps its artifacts, in one type. The pipelines, the
components, the demo and the tests name every artifact through it instead of joining paths
themselves:

```
{root}/dump_db/{language}.db              a language's dump database
{root}/dump_db/parts/{file}-{hash}.db     one part of a dump built alone (merged into the above)
{root}/entity_vocab/{language}.jsonl      a language's entity vocabulary
{root}/entity_vocab/multilingual.jsonl    mLUKE's vocabulary, merged through Wikidata
{root}/interwiki.db                       (title, language) <-> Wikidata item
{root}/dataset/{language}/                a language's pretraining dataset
{root}/training/{stage}/                  a training stage's run folder (stage1, stage2)
{root}/huggingface/                       the exported model
```
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from luke_core import storage

MULTILINGUAL = "multilingual"
STAGES = ("stage1", "stage2")


@dataclass(frozen=True)
class WorkDir:
    root: str
    """A local folder or an s3:// prefix."""

    def dump_db(self, language: str) -> str:
        return storage.join(self.root, "dump_db", f"{language}.db")

    def dump_db_part(self, dump_uri: str) -> str:
        """The database of one part of a dump, named by the part's file name and a hash of
        its URI (two `pages.xml` in two folders do not collide), glob characters replaced so
        that the merge reads the part's URI as a name, not as a pattern matching others."""
        name = re.sub(r"[*?\[\]]", "_", storage.basename(dump_uri))
        digest = hashlib.sha256(dump_uri.encode()).hexdigest()[:8]
        return storage.join(self.root, "dump_db", "parts", f"{name}-{digest}.db")

    def entity_vocab(self, language: str = MULTILINGUAL) -> str:
        """A language's vocabulary; without a language, mLUKE's merged one."""
        return storage.join(self.root, "entity_vocab", f"{language}.jsonl")

    @property
    def interwiki_db(self) -> str:
        return storage.join(self.root, "interwiki.db")

    def dataset(self, language: str) -> str:
        return storage.join(self.root, "dataset", language)

    def training(self, stage: str) -> str:
        return storage.join(self.root, "training", stage)

    @property
    def huggingface(self) -> str:
        return storage.join(self.root, "huggingface")
