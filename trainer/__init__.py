"""Triplet fine-tuning of the face embedder (no Qt)."""
