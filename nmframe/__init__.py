"""nmframe: declarative, config-driven experiments for long mathematical-reasoning distillation.

A run is a DAG of cached steps (ingest, validate answers, generate, filter, bucket, pack,
train in stages, evaluate, report) composed from typed Hydra configs.
"""

__version__ = "0.1.0"
