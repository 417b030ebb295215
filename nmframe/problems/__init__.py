"""Problems in one canonical schema, whatever file shape they came from."""
from nmframe.problems.canonical import (CANONICAL_FIELDS, RowError, detect_schema, problem_id,
                                        to_canonical)

__all__ = ["CANONICAL_FIELDS", "RowError", "detect_schema", "problem_id", "to_canonical"]
