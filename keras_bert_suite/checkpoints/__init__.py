"""Checkpoint readers (Google TF1, HF, our own presets) and the download cache."""
