"""Step 5: Hugging Face export (`convert.py`: `luke convert-to-huggingface`) and upload to the
Hub (`upload.py`: `luke upload`).

The package stays light to import (the `luke` command imports its cli module at start-up):
the entry functions and their options load their modules on first use."""

_LAZY = {
    "export_huggingface": "luke_core.export.convert",
    "ExportOptions": "luke_core.export.options",
    "ExportSummary": "luke_core.export.convert",
    "upload_to_hub": "luke_core.export.upload",
    "UploadOptions": "luke_core.export.upload",
    "UploadSummary": "luke_core.export.upload",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
