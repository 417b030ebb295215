"""Tests that need a CUDA GPU (marked gpu; skipped without one)."""
