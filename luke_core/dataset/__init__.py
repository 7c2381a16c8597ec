"""Step 3, the pretraining dataset: `building/` writes it, `loading/` reads it for training;
`format.py` is the on-disk contract between the two, `tokenizers.py` the tokenizer files both
use, `describe.py` what `luke inspect` and `compute-total-training-steps` read."""
