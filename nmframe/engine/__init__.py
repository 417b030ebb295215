"""The step engine: a run compiles to a DAG of tasks whose outputs are content-addressed artifacts.

Nothing here knows about math or models: steps plug in through the registry, launchers through
`nmframe.launch`. Everything a launcher needs to know about a task lives in `Task`.
"""
from nmframe.engine.resources import Resources
from nmframe.engine.step import Step, StepContext, TaskSpec
from nmframe.engine.registry import register_step, get_step, list_steps
from nmframe.engine.task import Task

__all__ = [
    "Resources", "Step", "StepContext", "TaskSpec", "Task",
    "register_step", "get_step", "list_steps",
]
