"""Built-in steps, one module each. Importing this package registers them."""
from nmframe.steps import ingest  # noqa: F401
from nmframe.steps import generate  # noqa: F401
from nmframe.steps import prepare_sft  # noqa: F401
from nmframe.steps import bucketize  # noqa: F401
from nmframe.steps import pack  # noqa: F401
from nmframe.steps import train_stage  # noqa: F401
from nmframe.steps import classify, decontaminate, filter_correct, filter_trivial, validate_answers  # noqa: F401
from nmframe.steps import evaluate  # noqa: F401
from nmframe.steps import extract_problems, extract_answers, stream_released  # noqa: F401
from nmframe.steps import import_traces  # noqa: F401
