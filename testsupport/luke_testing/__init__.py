"""Test support, shipped in neither the wheel nor the images: real services started on this
machine (SeaweedFS), local servers that stand in for the Kubernetes, KFP and Hugging Face Hub
APIs, synthetic Wikipedias and pretraining fixtures, and the lookup of the shared real data.

A distribution of its own (`testsupport/pyproject.toml`), installed in the development
environment by `scripts/setup.sh`; the demo's `--s3` uses its SeaweedFS server."""
