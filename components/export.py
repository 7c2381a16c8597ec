"""Components of step 5: the Hugging Face folder of a run, and its upload to the Hub."""

from kfp import dsl
from kfp.dsl import Markdown, Metrics, Model, Output

from luke_k8s.images import training_image


@dsl.component(base_image=training_image(), install_kfp_package=False)
def export_huggingface(
    checkpoint: str,
    work_dir: str,
    tokenizer_class: str,
    use_entity_aware_attention: bool,
    remove_entity_embeddings: bool,
    model_name: str,
    s3_endpoint: str,
    metrics: Output[Metrics],
    model_card: Output[Markdown],
    model: Output[Model],
) -> str:
    """Convert a checkpoint (a run folder: its latest complete one) into
    `{work_dir}/huggingface`, loadable with `LukeForMaskedLM.from_pretrained`."""
    from components.support import log_metrics, output_uri, setup, write_markdown, write_pointer
    from luke_core import storage
    from luke_core.export.convert import ExportOptions, export_huggingface

    setup(s3_endpoint)
    out = output_uri(work_dir, "huggingface")
    options = ExportOptions(
        tokenizer_class=tokenizer_class or None,
        use_entity_aware_attention=use_entity_aware_attention,
        remove_entity_embeddings=remove_entity_embeddings,
        model_name=model_name or None,
    )
    summary = export_huggingface(checkpoint, out, options)
    log_metrics(metrics, summary)
    write_markdown(model_card, storage.read_text(storage.join(out, "README.md")))
    write_pointer(model, out, "huggingface_model", tokenizer_class=summary.tokenizer_class,
                  step=summary.step)  # fmt: skip
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
