"""The Kubernetes side of the project: container images, the PyTorchJob for a training stage,
its launcher, and the `luke-pipeline` command.

Modules here may import kubernetes and kfp, but only inside the modules that need them:
`pipelines.images` and `pipelines.torchrun_node` run where neither is installed (the image
build script, the training pods)."""
