"""Real Wikipedia sample dumps for the demo and tests, found without any data hub:
the shared test data when present (`LUKE_TEST_DATA`), else the fragments that the gensim
wheel on PyPI ships in `gensim/test/test_data/`, fetched once into the user's cache."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from luke_core import storage
from luke_core.errors import LukeError

logger = logging.getLogger(__name__)

GENSIM_VERSION = "4.4.0"
ENWIKI_FRAGMENT = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
BGWIKI_FRAGMENT = "bgwiki-latest-pages-articles-shortened.xml.bz2"
TABLE_MARKUP_FRAGMENT = "enwiki-table-markup.xml.bz2"
GENSIM_FILES = (ENWIKI_FRAGMENT, BGWIKI_FRAGMENT, TABLE_MARKUP_FRAGMENT)


def sample_dump(name: str = ENWIKI_FRAGMENT) -> Path:
    """A local path to the named sample dump."""
    shared = os.environ.get("LUKE_TEST_DATA")
    if shared and Path(shared, "wikipedia", name).exists():
        return Path(shared, "wikipedia", name)
    cached = gensim_samples_dir() / name
    if cached.exists():
        return cached
    fetch_gensim_samples()
    if not cached.exists():
        raise LukeError(f"gensim {GENSIM_VERSION} does not ship {name}")
    return cached


def gensim_samples_dir() -> Path:
    return storage.cache_dir() / "samples" / f"gensim-{GENSIM_VERSION}"


def fetch_gensim_samples() -> Path:
    """Download the gensim wheel from PyPI (no install) and keep its wiki fragments."""
    target = gensim_samples_dir()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        logger.info("fetching the gensim %s wheel from PyPI for its sample dumps", GENSIM_VERSION)
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            scratch,
            f"gensim=={GENSIM_VERSION}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = list(Path(scratch).glob("gensim-*.whl"))
        if done.returncode != 0 or not wheels:
            raise LukeError(
                f"cannot fetch gensim=={GENSIM_VERSION} from PyPI for the sample dump: "
                f"{done.stderr.strip()[-500:]}"
            )
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name in GENSIM_FILES:
                data = wheel.read(f"gensim/test/test_data/{name}")
                storage.write_bytes(str(target / name), data)
    return target
