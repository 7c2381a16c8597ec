"""Building a pretraining dataset (`build_dataset` in `build.py`): pages of a dump database
split into sentences (`sentences.py`), tokenised in segments with the reference's rules
(`tokenization.py`), packed into instances (`instances.py`) by worker processes
(`workers.py`, as flat columns: `columns.py`) and written into shards (`writer.py`)."""
