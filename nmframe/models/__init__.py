"""Models and tokenizers: tiny ones built locally from config (tests, quickstart), real ones by hub id."""
from nmframe.models.tiny import SPECIAL_TOKENS, build_tiny_model, build_tiny_tokenizer, load_tokenizer

__all__ = ["SPECIAL_TOKENS", "build_tiny_model", "build_tiny_tokenizer", "load_tokenizer"]
