"""Typed configuration: schemas, composition with readable errors, and cross-field validation."""
from nmframe.config.compose import (OverrideError, compose, compose_points, conf_dir, group_choices,
                                    override_keys)
from nmframe.config.checks import ConfigError, check_parallel_layout, validate

__all__ = ["OverrideError", "ConfigError", "compose", "compose_points", "conf_dir", "group_choices", "override_keys",
           "validate", "check_parallel_layout"]
