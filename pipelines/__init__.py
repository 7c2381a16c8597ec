"""The top floor: the LUKE and mLUKE pipelines over the components, and the `luke-pipeline`
command (compile, submit, run-local, demo; `manifest` comes from `luke_k8s`).

Floors, each importing only the ones below it: `luke_core` <- `luke_k8s` <- `components` <-
`pipelines`."""
