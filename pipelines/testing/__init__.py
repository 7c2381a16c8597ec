"""Test support for the Kubernetes side (as `luke_core.testing` is for the library): a local
server speaking the part of the Kubernetes API the launcher uses, and an offline PyTorchJob
validator built from the training operator's CRD schema. Used by tests/pipelines and by
component tests; nothing here runs in production."""
