"""Shipped DeepSpeed configs (package data); see luke_core/training/deepspeed_config.py."""
