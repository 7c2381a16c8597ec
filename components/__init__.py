"""Kubeflow Pipelines components: one thin lightweight Python component per step.

Each component's body imports `luke_core` (baked into the project's images) and calls the
step's entry function; `install_kfp_package=False` and no `packages_to_install`, so the
same component runs in the cluster and under kfp.local's SubprocessRunner. Only the
function body is shipped with a component, so every import lives inside it.
"""
