"""Helpers for tests and demos that need real services on this machine (SeaweedFS)."""
