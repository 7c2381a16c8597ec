"""Loading a pretraining dataset for training (`PretrainingLoader` in `loader.py`): the
dataset directories checked and compared (`sources.py`), shards cached and verified
(`cache.py`) and read (`shard_reader.py`), the data order and the mixing of several datasets
(`order.py`, `mixing.py`), masking (`masking.py`) and batches (`batch.py`) made in loader
workers (`stream.py`)."""
