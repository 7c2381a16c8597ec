"""The shared real test data (../shared/data, through LUKE_TEST_DATA)."""

from __future__ import annotations

import os
from pathlib import Path


def shared_data_path(*parts: str) -> Path:
    """A file of the shared real data: skip the test when LUKE_TEST_DATA is unset, fail it
    when the variable is set but the file is missing (see ../shared/data/README.md)."""
    import pytest

    root = os.environ.get("LUKE_TEST_DATA")
    if not root:
        pytest.skip("LUKE_TEST_DATA is not set: real shared data unavailable")
    path = Path(root, *parts)
    if not path.exists():
        pytest.fail(f"LUKE_TEST_DATA is set but {path} is missing")
    return path
