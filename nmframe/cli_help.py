"""The text of `nmframe --help`: examples first, then every config group with its default marked.

Why: the help is where a new user learns the commands. Descriptions are wrapped at word
boundaries (never cut), each group names its default (`*` on the choice and "default: ..."
after the group), and a short list of examples shows the common commands.
"""
from __future__ import annotations

import argparse
import os
import shutil
import textwrap
from pathlib import Path

import yaml

from nmframe.config import conf_dir, group_choices

_EXAMPLES = [
    ("nmframe run experiment=quickstart", "run every step on this machine (cached steps are skipped)"),
    ("nmframe plan experiment=quickstart launcher=slurm", "the DAG as a table and the outputs folder; runs nothing"),
    ("nmframe run -m mode=high,low trainer.lr=1e-4,2e-4", "a sweep: every point validated first, shared steps run once"),
    ("nmframe plan experiment=quickstart --cfg job -p trainer", "the composed config (one package), as Hydra prints it"),
    ("nmframe plan --info defaults-tree", "Hydra's defaults tree (--info: search path, defaults, config)"),
    ("nmframe report quickstart", "tables, CIs and plots of the latest quickstart run"),
    ("nmframe status", "recent runs and the states of their tasks"),
    ('eval "$(nmframe -sc install=bash)"', "tab completion of verbs, groups, choices and keys"),
]
EXAMPLES = "examples:\n" + "".join(f"  {cmd}\n      {what}\n" for cmd, what in _EXAMPLES) + """
outputs go to $NMFRAME_OUTPUTS, else <project root>/outputs: the nearest folder from the current
directory up that holds a .nmframe file or nmframe's conf/, else nmframe's source tree.
`nmframe plan` prints the folder it uses.
"""


def _width() -> int:
    return max(60, min(120, int(os.environ.get("COLUMNS", 0)) or shutil.get_terminal_size((100, 24)).columns))


def _first_comment(path: Path) -> str:
    """The first comment line of a config file: its one-line description."""
    try:
        for line in path.read_text().splitlines():
            s = line.strip()
            if s.startswith("#") and not s.startswith("# @package") and not s.startswith("# Run:"):
                return s.lstrip("# ").strip()
            if s and not s.startswith("#"):
                break
    except OSError:
        pass
    return ""


def group_defaults() -> dict[str, str]:
    """The default choice of each group, read from conf/config.yaml's defaults list."""
    doc = yaml.safe_load((conf_dir() / "config.yaml").read_text()) or {}
    out = {}
    for entry in doc.get("defaults", []):
        if isinstance(entry, dict):
            for group, choice in entry.items():
                out[str(group)] = "none" if choice is None else str(choice)
    return out


def groups_help(width: int | None = None) -> str:
    """Every group, its default and its choices, each with its description wrapped (not cut)."""
    width = width or _width()
    defaults = group_defaults()
    root = conf_dir()
    lines = ["config groups (pick one with group=choice):", "  (* marks each group's default)"]
    for group, choices in group_choices().items():
        default = defaults.get(group, "none")
        shown = "the model's (parallelism=${model})" if default == "${model}" else default
        lines.append(f"  {group}:  (default: {shown})")
        for c in choices:
            name = f"{c}*" if c == default else c
            desc = _first_comment(root / group / f"{c}.yaml")
            lead = f"    {name:<28} "
            wrapped = textwrap.wrap(desc, width=max(30, width - len(lead)), break_long_words=False,
                                    break_on_hyphens=False) or [""]
            lines.append(lead + wrapped[0])
            lines += [" " * len(lead) + w for w in wrapped[1:]]
    lines += ["", "any key can be set: trainer.lr=1e-4 launcher.max_parallel=4 pipeline.steps=[ingest]",
              "+key=value adds a key only where the schema has room (a misspelt +trainer.lrr is refused)"]
    return "\n".join(l.rstrip() for l in lines)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Raw epilogs (already wrapped) and "(default: X)" after an option whose default says something."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        # wrap at spaces only: never "defaults-" / "tree" across two lines
        return textwrap.wrap(self._whitespace_matcher.sub(" ", text).strip(), width, break_on_hyphens=False)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        d = action.default
        if action.option_strings and "default" not in text and d not in (None, False, [], argparse.SUPPRESS):
            text += " (default: %(default)s)"
        return text


def finish(parser: argparse.ArgumentParser) -> None:
    """Give the top parser and every subcommand the formatter above (subcommands added later by
    others get it too, since this runs on the built parser)."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:  # noqa: SLF001 - argparse keeps its subcommands here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in action.choices.values():
                sub.formatter_class = HelpFormatter
