"""Evaluation of a model on the benchmarks: configs, the model under test, sampling, scoring.

The `evaluate` step (nmframe/steps/evaluate.py) is a thin shell around this package:

    parse_configs(cfg.evaluate.configs) -> [EvalConfig(mode, tir)]   # the paper's six configs
    resolve_model(cfg, student_dir) -> ModelRef                       # checkpoint or base model
    sample_problems(...)                                              # resumable n samples per problem
    score(records, ks, alpha) -> metrics per subset and overall
"""
from nmframe.evaluation.configs import EvalConfig, config_label, parse_configs
from nmframe.evaluation.scoring import read_eval_records, score

__all__ = ["EvalConfig", "config_label", "parse_configs", "read_eval_records", "score"]
