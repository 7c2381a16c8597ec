"""Components of step 5: the Hugging Face folder of a run, and its upload to the Hub."""

from kfp import dsl
from kfp.dsl import Markdown, Metrics, Model, Output

from luke_k8s.images import training_image


@dsl.component(base_image=training_image(), install_kfp_package=False)
def export_huggingface(
    checkpoint: str,
    work_dir: str,
    preset: str,
    tokenizer_class: str,
    use_entity_aware_attention: bool,
    remove_entity_embeddings: bool,
    model_name: str,
    s3_endpoint: str,
    reuse_outputs: bool,
    metrics: Output[Metrics],
    model_card: Output[Markdown],
    model: Output[Model],
) -> str:
    """Convert a checkpoint (a run folder: its latest complete one) into the work dir's
    Hugging Face folder, loadable with `LukeForMaskedLM.from_pretrained`, with the tokenizer
    class named (empty: the preset's, else the base model's kind's). With
    `reuse_outputs` a folder exported from the same checkpoint with the same options is
    kept."""
    from components.support import log_metrics, setup, write_markdown, write_pointer
    from luke_core import storage
    from luke_core.export.convert import export_huggingface
    from luke_core.export.options import ExportOptions
    from luke_core.presets import get_preset
    from luke_core.workdir import WorkDir

    setup(s3_endpoint)
    out = WorkDir(work_dir).huggingface
    options = ExportOptions(
        tokenizer_class=tokenizer_class or (get_preset(preset).tokenizer_class if preset else None),
        use_entity_aware_attention=use_entity_aware_attention,
        remove_entity_embeddings=remove_entity_embeddings,
        model_name=model_name or None,
        reuse=reuse_outputs,
    )
    summary = export_huggingface(checkpoint, out, options)
    log_metrics(metrics, summary)
    write_markdown(model_card, storage.read_text(storage.join(out, "README.md")))
    write_pointer(model, out, "huggingface_model", tokenizer_class=summary.tokenizer_class,
                  step=summary.step, reused=summary.reused)  # fmt: skip
    return out


@dsl.component(base_image=training_image(), install_kfp_package=False)
def upload_to_hub(
    folder: str,
    repo_id: str,
    private: bool,
    revision: str,
    s3_endpoint: str,
    metrics: Output[Metrics],
) -> str:
    """Upload the exported folder to the Hugging Face Hub (token from HF_TOKEN, set from a
    Kubernetes Secret); returns the repository's URL."""
    from components.support import setup
    from luke_core.export.upload import UploadOptions, upload_to_hub

    setup(s3_endpoint)
    summary = upload_to_hub(
        folder, repo_id, UploadOptions(private=private, revision=revision or None)
    )
    metrics.log_metric("files", len(summary.files))
    metrics.log_metric("bytes", summary.bytes)
    return summary.repo_url or ""
