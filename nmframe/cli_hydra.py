"""Hydra's command-line conventions for `nmframe run|plan`: --cfg, --info, -sc, hydra.verbose.

Why: people who know Hydra type `--cfg job`, `--info`, `-sc install=bash` and `hydra.verbose=true`
out of habit. These behave as in Hydra (1.3) and are implemented with Hydra itself where it can
(its own `show_cfg`, `show_info` and completion query, on nmframe's config search path), so the
output is what a Hydra user expects:

    --cfg/-c job|hydra|all [--package/-p PKG] [--resolve]   print the composed config, run nothing
    --info/-i [all|config|defaults|defaults-tree|plugins|searchpath]
    --shell-completion/-sc install=bash | uninstall=bash | query=bash
    hydra.verbose=true | hydra.verbose=NAME | hydra.verbose=[a,b]   DEBUG logs (true: nmframe's)

`hydra/launcher=...` is refused in :func:`nmframe.config.compose.check_overrides`: nmframe's
launchers are its own `launcher=` group.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from nmframe.config.compose import OverrideError, expand_sweep, group_choices, hydra_session, is_sweep

INFO_CHOICES = ["all", "config", "defaults", "defaults-tree", "plugins", "searchpath"]
SC_FLAGS = ("-sc", "--shell-completion")
SHELLS = ("bash",)
VERBOSE_ENV = "NMFRAME_VERBOSE"  # read by nmframe.engine.task_runner


def add_show_flags(p: argparse.ArgumentParser) -> None:
    """Hydra's --cfg/-c, --package/-p, --resolve and --info/-i on a verb that takes overrides."""
    p.add_argument("-c", "--cfg", choices=["job", "hydra", "all"],
                   help="print the composed config instead of running: job (nmframe's), hydra, or all")
    p.add_argument("-p", "--package", metavar="PKG", help="with --cfg: print only this package (e.g. trainer)")
    p.add_argument("--resolve", action="store_true", help="with --cfg: resolve interpolations before printing")
    p.add_argument("-i", "--info", nargs="?", const="all", choices=INFO_CHOICES, metavar="WHAT",
                   help=f"print Hydra's information and exit: {'|'.join(INFO_CHOICES)} (default: all)")


def wants_show(args) -> bool:
    return bool(getattr(args, "cfg", None) or getattr(args, "info", None))


# ------------------------------------------------------------------------------------------ verbose
def pop_verbose(overrides: list[str]) -> list[str]:
    """Take `hydra.verbose=...` out of the overrides and set the log levels it asks for (as Hydra's
    `configure_log`: true, a logger name, or a list of names); `true` means nmframe's loggers."""
    rest = []
    for ov in overrides:
        key, _, value = ov.partition("=")
        if key.lstrip("+") != "hydra.verbose":
            rest.append(ov)
            continue
        value = value.strip()
        if value.lower() in ("false", "null", ""):
            continue
        if value.lower() == "true":
            names = ["nmframe"]
        else:
            names = [n.strip().strip("'\"") for n in value.strip("[]").split(",") if n.strip()]
        for name in names:
            logging.getLogger(name).setLevel(logging.DEBUG)
        os.environ[VERBOSE_ENV] = ",".join(names)  # the task processes a launcher starts read it
        logging.getLogger("nmframe").debug("hydra.verbose: DEBUG logs for %s", ", ".join(names))
    return rest


# ------------------------------------------------------------------------------------- --cfg/--info
def show(args, overrides: list[str]) -> int:
    """--cfg / --info: compose with Hydra and print, as `python app.py --cfg job` does. Exit codes
    as Hydra's: 0, or 1 when --package names nothing."""
    extra_dirs = getattr(args, "config_dir", None) or None
    if getattr(args, "multirun", False):
        points = expand_sweep(overrides)
    else:
        if is_sweep(overrides):
            raise OverrideError("these overrides describe a sweep (a=x,y / glob / range): add -m to show each point")
        points = [overrides]
    for i, point in enumerate(points):
        if len(points) > 1:
            print(f"# point {i + 1}/{len(points)}: {' '.join(point) or '(defaults)'}")
        code = _show_one(args, point, extra_dirs)
        if code:
            return code
    return 0


def _show_one(args, overrides: list[str], extra_dirs) -> int:
    from hydra.core.global_hydra import GlobalHydra

    with hydra_session(overrides, extra_dirs) as full:
        hydra = GlobalHydra.instance().hydra
        try:
            if args.cfg:
                hydra.show_cfg(config_name="config", overrides=full, cfg_type=args.cfg,
                               package=args.package, resolve=args.resolve)
            if args.info:
                _show_info(hydra, args.info, full)
        except SystemExit as exc:  # Hydra's "package 'x' not found in config"
            return int(exc.code or 0)
    return 0


def _show_info(hydra, info: str, overrides: list[str]) -> None:
    """Hydra's --info logs to stdout through the root logger at DEBUG: only there (not also to the
    stderr handler nmframe set up), and the root logger is put back after."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    for h in handlers:
        root.removeHandler(h)
    try:
        hydra.show_info(info, config_name="config", overrides=overrides)
    finally:
        for h in root.handlers[:]:
            root.removeHandler(h)
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)


# -------------------------------------------------------------------------------- shell completion
def wants_completion(argv: list[str]) -> bool:
    return any(a in SC_FLAGS for a in argv)


def shell_completion(argv: list[str], parser: argparse.ArgumentParser) -> int:
    """`-sc install=bash` prints the script, `uninstall=bash` the lines that remove it, `query=bash`
    the completions of $COMP_LINE (the script calls it back, as Hydra's does)."""
    commands = dict(a.partition("=")[::2] for a in argv if a not in SC_FLAGS and "=" in a)
    chosen = [c for c in ("install", "uninstall", "query") if c in commands]
    if len(chosen) != 1:
        print("nmframe --shell-completion: give one of install=bash, uninstall=bash, query=bash", file=sys.stderr)
        return 1
    cmd, shell = chosen[0], commands[chosen[0]]
    if shell not in SHELLS:
        print(f"nmframe --shell-completion: no completion for shell {shell!r} (available: {', '.join(SHELLS)}; "
              "zsh can load it with bashcompinit)", file=sys.stderr)
        return 1
    if cmd == "install":
        print(bash_script(parser))
    elif cmd == "uninstall":
        print("complete -r nmframe 2>/dev/null\nunset -f _nmframe_completion")
    else:
        line = os.environ.get("COMP_LINE", "")
        point = os.environ.get("COMP_POINT", "")
        if point.isdigit():
            line = line[: int(point)]
        print("\n".join(complete_line(line, parser)))
    return 0


def _verbs(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # noqa: SLF001 - argparse keeps its subcommands here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return dict(action.choices)
    return {}


def _options(p: argparse.ArgumentParser) -> list[str]:
    return sorted(s for a in p._actions for s in a.option_strings)  # noqa: SLF001


def _takes_overrides(p: argparse.ArgumentParser) -> bool:
    return any(a.dest == "overrides" for a in p._actions)  # noqa: SLF001


def bash_script(parser: argparse.ArgumentParser) -> str:
    """A bash completion function generated from the parser (verbs and their options); overrides
    are completed by calling back `nmframe -sc query=bash`, which asks Hydra about the config."""
    verbs = _verbs(parser)
    cases = []
    for name, sub in verbs.items():
        cases.append(f'        {name}) options="{" ".join(_options(sub))}"; overrides={int(_takes_overrides(sub))} ;;')
    top = " ".join(list(verbs) + _options(parser) + ["--shell-completion"])
    return "\n".join([
        "# bash completion for nmframe, generated by `nmframe --shell-completion install=bash`",
        '# install: eval "$(nmframe -sc install=bash)"    (e.g. in ~/.bashrc)',
        "_nmframe_completion()",
        "{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" options="" overrides=0 choices',
        "    if (( COMP_CWORD <= 1 )); then",
        f'        COMPREPLY=($(compgen -W "{top}" -- "$cur"))',
        "        return 0",
        "    fi",
        '    case "${COMP_WORDS[1]}" in',
        *cases,
        "        *) return 0 ;;",
        "    esac",
        '    if [[ "$cur" == -* ]]; then',
        '        COMPREPLY=($(compgen -W "$options" -- "$cur"))',
        "    elif (( overrides )); then",
        '        choices=$(COMP_POINT=$COMP_POINT COMP_LINE=$COMP_LINE "${COMP_WORDS[0]}" -sc query=bash 2>/dev/null)',
        '        COMPREPLY=($(compgen -W "$choices" -- "$cur"))',
        "    fi",
        "    return 0",
        "}",
        "COMP_WORDBREAKS=${COMP_WORDBREAKS//=}",
        "complete -o nospace -o default -F _nmframe_completion nmframe",
    ])


def complete_line(line: str, parser: argparse.ArgumentParser) -> list[str]:
    """Completions for the last word of `nmframe VERB ...`: Hydra's own query (groups, choices,
    keys of the composed config), plus nested group choices such as experiment=paper/table3."""
    words = line.split()
    verbs = _verbs(parser)
    if len(words) < 2 or words[1] not in verbs:
        return []
    sub = verbs[words[1]]
    takes_value = {s for a in sub._actions if a.option_strings and a.nargs != 0 for s in a.option_strings}  # noqa: SLF001
    kept, extra_dirs, skip = [], [], None
    for w in words[2:]:
        if skip:
            if skip == "--config-dir":
                extra_dirs.append(Path(w))
            skip = None
        elif w in takes_value:
            skip = w
        elif w in ("-m", "--multirun") or not w.startswith("-"):
            kept.append(w)
    new_word = line.endswith(" ")
    word = "" if new_word or not kept or kept[-1] in ("-m", "--multirun") else kept[-1]
    multirun = [w for w in kept if w in ("-m", "--multirun")][:1]
    overrides = [w for w in kept if w not in ("-m", "--multirun")]
    query = " ".join(multirun + overrides) + (" " if new_word else "")  # Hydra's parser wants -m first
    out: set[str] = set()
    try:
        out.update(_hydra_query(query, extra_dirs))
    except (Exception, SystemExit):  # noqa: BLE001 - a completion must never print a traceback into the shell
        pass
    key, eq, _ = word.lstrip("+").partition("=")
    prefix = word[: len(word) - len(word.lstrip("+"))]
    try:
        choices = group_choices(extra_dirs or None)
    except OSError:
        choices = {}
    if eq and key in choices:
        out.update(f"{prefix}{key}={c}" for c in choices[key] if f"{key}={c}".startswith(word.lstrip("+")))
    return sorted(out)


def _hydra_query(query: str, extra_dirs: list[Path]) -> list[str]:
    """Hydra's CompletionPlugin._query on nmframe's search path (the overrides are in ``query``)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.plugins.completion_plugin import DefaultCompletionPlugin

    with hydra_session([], extra_dirs or None) as full:
        extra = [w for w in full if w.startswith("hydra.searchpath=")]
        plugin = DefaultCompletionPlugin(GlobalHydra.instance().config_loader())
        multirun, rest = (["-m"], query[3:]) if query.startswith("-m ") else ([], query)
        return plugin._query(config_name="config", line=" ".join(multirun + extra + [rest]))  # noqa: SLF001
