"""Test support for the Kubernetes side (as `luke_core.testing` is for the library): a local
server speaking the part of the Kubernetes API the launcher uses, an offline PyTorchJob
validator built from the training operator's CRD schema, a local server speaking the part of
the KFP API `kfp.Client` uses to submit runs, and small synthetic Wikipedias for the mLUKE
pipeline. Used by tests/pipelines and by
component tests; nothing here runs in production."""
