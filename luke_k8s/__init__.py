"""The Kubernetes side of the project, between the library and the KFP components: container
images, the training job of a stage (PyTorchJob builder and options), its launcher (create,
follow, explain, delete), pod logs, the torchrun entry of a training pod, and the manifests
`luke-pipeline manifest` writes.

It imports `luke_core` and nothing above it. Modules may import kubernetes, but only those
that need it: `luke_k8s.images` and `luke_k8s.torchrun_node` run where neither kubernetes nor
kfp is installed (the image build script, the training pods)."""
