"""Errors shared by every layer, in a module that imports nothing of nmframe.

Why here: libraries (training layouts, LR schedules) reject bad settings with the same one-line
message as the config checks (key, value, why, allowed values), without importing the config
package, which sits above them.
"""
from __future__ import annotations


class ConfigError(ValueError):
    """An invalid configuration, found before anything runs."""

    def __init__(self, key: str, value, why: str, allowed: str | None = None):
        self.key, self.value, self.why, self.allowed = key, value, why, allowed
        msg = f"{key}={value!r}: {why}"
        if allowed:
            msg += f" (allowed: {allowed})"
        super().__init__(msg)
