"""The replay teacher: scripted harmony traces for the shipped sample problems, run through the real loop.

Why: a tiny random model never calls the Python tool and is never right, so in the embedded
quickstart the sandbox, the tool loop, answer validation and the correctness filter would have
nothing to do. This backend answers each teacher prompt with a trace written for that problem
(``teacher.model``, by default ``pkg://teacher/replay_traces.json``): an analysis message, Python
calls whose code computes the answer (or, in some traces, gets it wrong), and a final message
whose ``\\boxed{}`` answer is filled from the *real* sandbox output of the previous call, which
the loop appended to the prompt. Some traces are wrong, some give no boxed answer, some are
long enough to run out of tokens; which trace a sample gets is chosen deterministically.

What it reads from each request (the loop's text-completion protocol, nothing else):

* the problem: the user turn, looked up among the library's problems (an unknown problem is an
  error result naming the library, never an invented trace);
* ``Reasoning: high|medium|low`` and whether the python tool is declared: only templates for
  that effort and tool setting are candidates;
* the round: the number of tool-output blocks already in the prompt; later rounds continue the
  template whose first turn the completion starts with (so a trace is followed to its end);
* ``seed`` (the sample's engine seed in the first round): picks the template, weighted by its
  ``weight``, from a hash of (problem, effort, tool, seed);
* ``max_tokens`` and ``stop``: honoured as an engine does, counting o200k/harmony tokens (the
  teacher's vocabulary); a turn longer than the budget is cut at the budget with
  finish_reason "length". ``temperature``/``top_p`` do not apply: the traces are fixed.

It is a teacher for exercising the pipeline, not a model: its answers are scripted.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from nmframe.generation.base import (CONTEXT_OVERFLOW, REQUEST_ERROR, CompletionRequest,
                                     CompletionResult, strip_stop)
from nmframe.generation.registry import register_backend
from nmframe.harmony.protocol import (ASSISTANT_TURN, CALL, END, RETURN, TOOL_OUTPUT_END,
                                      TOOL_OUTPUT_HEADERS)
from nmframe.harmony.render import BOXED_INSTRUCTION, REASONING_EFFORTS

DEFAULT_LIBRARY = "pkg://teacher/replay_traces.json"
USER_TURN = "<|start|>user<|message|>"
PLACEHOLDERS = ("code", "answer", "slip_code", "slip_answer", "output")
_PLACEHOLDER = re.compile(r"<<([a-z_]+)>>")
_EFFORT = re.compile(r"^Reasoning: (\w+)$", re.M)


class ReplayLibraryError(ValueError):
    """The trace library is malformed (the message names the file and key)."""


@dataclass(frozen=True)
class Template:
    """One scripted trace shape: the text the model writes in each round of the loop."""
    name: str
    tir: bool
    efforts: tuple[str, ...]
    weight: int
    turns: tuple[str, ...]


@dataclass(frozen=True)
class ProblemScript:
    """What a template is filled with for one problem."""
    problem_id: str
    code: str
    answer: str
    slip_code: str
    slip_answer: str


def _resolve(path: str, base: Optional[Path] = None) -> Path:
    from nmframe.datafiles import PKG_DATA

    if path.startswith("pkg://"):
        return PKG_DATA / path[len("pkg://"):]
    p = Path(path).expanduser()
    return p if p.is_absolute() or base is None else base / p


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReplayLibraryError(f"{path}: cannot read the replay teacher's {what}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ReplayLibraryError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None


class ReplayLibrary:
    """Templates and per-problem values of one trace library file (see the module docstring)."""

    def __init__(self, path: Path, templates: list[Template], problems: dict[str, ProblemScript], digest: str):
        self.path = path
        self.templates = templates
        self.by_text = problems          # problem text -> its script
        self.digest = digest             # of the library, solutions and problems files together

    @classmethod
    def load(cls, source: str = DEFAULT_LIBRARY) -> "ReplayLibrary":
        path = _resolve(source)
        doc = _read_json(path, "trace library")
        if not isinstance(doc, dict):
            raise ReplayLibraryError(f"{path}: expected a JSON object with templates, slips, problems, solutions")
        for key in ("templates", "slips", "problems", "solutions"):
            if key not in doc:
                raise ReplayLibraryError(f"{path}: missing key {key!r}")
        templates = [_template(path, i, t) for i, t in enumerate(doc["templates"])]
        solutions_file = _resolve(doc["solutions"], path.parent)
        solutions = {str(s["id"]): s for s in _read_json(solutions_file, "solutions")}
        problems: dict[str, ProblemScript] = {}
        problems_file = _resolve(doc["problems"], path.parent)
        try:
            lines = problems_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ReplayLibraryError(f"{problems_file}: cannot read the replayed problems: {exc.strerror}") from None
        for row in (json.loads(line) for line in lines if line.strip()):
            pid = str(row["id"])
            sol, slip = solutions.get(pid), doc["slips"].get(pid)
            if sol is None or slip is None:
                raise ReplayLibraryError(f"{path}: problem {pid} of {problems_file.name} has no "
                                         f"{'solution' if sol is None else 'slips entry'}")
            problems[row["problem"]] = ProblemScript(pid, sol["code"], sol["answer"], slip["code"], slip["answer"])
        digest = hashlib.sha256()
        for f in (path, solutions_file, problems_file):
            digest.update(f.read_bytes())
        return cls(path, templates, problems, digest.hexdigest()[:16])

    def candidates(self, tir: bool, effort: str) -> list[Template]:
        return [t for t in self.templates if t.tir == tir and effort in t.efforts]

    def choose(self, problem_id: str, effort: str, tir: bool, seed: int) -> Template:
        """The template of one sample: a weighted, deterministic draw keyed by the sample."""
        cands = self.candidates(tir, effort)
        digest = hashlib.sha256(f"{problem_id}|{effort}|{int(tir)}|{seed}".encode()).digest()
        pick = int.from_bytes(digest[:8], "big") % sum(t.weight for t in cands)
        for t in cands:
            pick -= t.weight
            if pick < 0:
                return t
        raise AssertionError("unreachable: weights are positive")

    @staticmethod
    def fill(text: str, script: ProblemScript, output: str = "") -> str:
        values = {"code": script.code, "answer": script.answer, "slip_code": script.slip_code,
                  "slip_answer": script.slip_answer, "output": output}
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def _template(path: Path, i: int, t: dict) -> Template:
    where = f"{path}: templates[{i}]"
    try:
        tpl = Template(str(t["name"]), bool(t["tir"]), tuple(t["efforts"]), int(t.get("weight", 1)),
                       tuple(t["turns"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ReplayLibraryError(f"{where}: needs name, tir, efforts, turns ({type(exc).__name__}: {exc})") from None
    bad = [e for e in tpl.efforts if e not in REASONING_EFFORTS]
    if bad or not tpl.efforts:
        raise ReplayLibraryError(f"{where} ({tpl.name}): efforts must be among {REASONING_EFFORTS}, got {list(tpl.efforts)}")
    if tpl.weight < 1 or not tpl.turns:
        raise ReplayLibraryError(f"{where} ({tpl.name}): needs weight >= 1 and at least one turn")
    for j, turn in enumerate(tpl.turns):
        unknown = set(_PLACEHOLDER.findall(turn)) - set(PLACEHOLDERS)
        if unknown:
            raise ReplayLibraryError(f"{where} ({tpl.name}) turn {j}: unknown placeholder(s) {sorted(unknown)}")
        last = j == len(tpl.turns) - 1
        if not turn.endswith(RETURN if last else CALL):
            raise ReplayLibraryError(f"{where} ({tpl.name}) turn {j}: must end with "
                                     f"{RETURN if last else CALL} ({'the final' if last else 'a tool call'})")
        if (not tpl.tir) and CALL in turn:
            raise ReplayLibraryError(f"{where} ({tpl.name}): a template without the tool calls python")
    return tpl


@dataclass(frozen=True)
class PromptView:
    """What the replay teacher reads from one teacher prompt."""
    problem: str
    effort: str
    tir: bool
    completion: str         # what the model (and the tool) already wrote in this turn
    tool_outputs: tuple[str, ...]


def read_prompt(prompt: str) -> Optional[PromptView]:
    """The problem, effort, tool setting and completion so far of a harmony teacher prompt (None if
    the prompt is not one: no user turn or no assistant turn after it)."""
    begin = prompt.find(USER_TURN)
    if begin < 0:
        return None
    end = prompt.find(END, begin)
    after = end + len(END)
    if end < 0 or not prompt.startswith(ASSISTANT_TURN, after):
        return None
    system = prompt[:begin]
    effort = _EFFORT.search(system)
    user = prompt[begin + len(USER_TURN):end]
    suffix = "\n" + BOXED_INSTRUCTION
    problem = user[:-len(suffix)] if user.endswith(suffix) else user
    completion = prompt[after + len(ASSISTANT_TURN):]
    headers = "|".join(re.escape(h) for h in TOOL_OUTPUT_HEADERS.values())
    outputs = re.findall(f"(?:{headers})(.*?){re.escape(TOOL_OUTPUT_END)}", completion, flags=re.S)
    return PromptView(problem, effort.group(1) if effort else "medium", "\n## python\n" in system,
                      completion, tuple(outputs))


def last_line(output: str) -> str:
    """The last non-empty line of a tool output (a printed value, or the error of a traceback)."""
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


@register_backend("replay")
class ReplayBackend:
    """Scripted traces through the real tool loop; see the module docstring."""

    name = "replay"
    teacher_tokenizer = True     # token counts are o200k/harmony counts of the trace text

    def __init__(self, library: str = DEFAULT_LIBRARY, max_context: Optional[int] = None):
        self.library = ReplayLibrary.load(library)
        self.model = f"replay:{library}@{self.library.digest}"
        self.max_context = max_context

    @staticmethod
    def content_fingerprint(model: str) -> str:
        """Digest of the trace library ``model`` names: part of the generate step's cache key, so
        that edited traces are generated again."""
        return ReplayLibrary.load(model).digest

    @classmethod
    def from_spec(cls, spec, stack=None, log_dir=None) -> "ReplayBackend":
        return cls(spec.model, max_context=spec.max_model_len)

    def close(self) -> None:
        pass

    def complete(self, requests: list[CompletionRequest]) -> list[CompletionResult]:
        return [self._one(r) for r in requests]

    def turn_text(self, req: CompletionRequest) -> tuple[Optional[str], Optional[str]]:
        """(the text this request's round writes, None) or (None, why there is none)."""
        view = read_prompt(req.prompt)
        if view is None:
            return None, "the replay teacher answers harmony teacher prompts only (no user turn found)"
        script = self.library.by_text.get(view.problem)
        if script is None:
            return None, (f"the replay teacher has no trace for this problem ({view.problem[:60]!r}); "
                          f"it replays the problems of {self.library.path.name} only")
        if not self.library.candidates(view.tir, view.effort):
            return None, f"{self.library.path.name} has no template for effort {view.effort!r}, tir={view.tir}"
        turn = len(view.tool_outputs)
        if turn == 0:
            tpl = self.library.choose(script.problem_id, view.effort, view.tir, int(req.seed or 0))
        else:
            tpl = next((t for t in self.library.candidates(view.tir, view.effort)
                        if view.completion.startswith(self.library.fill(t.turns[0], script))), None)
            if tpl is None:
                return None, "the transcript does not continue any replayed trace"
        if turn >= len(tpl.turns):
            return None, f"trace {tpl.name!r} has {len(tpl.turns)} turns; the transcript asks for turn {turn + 1}"
        output = last_line(view.tool_outputs[-1]) if view.tool_outputs else ""
        return self.library.fill(tpl.turns[turn], script, output), None

    def _one(self, req: CompletionRequest) -> CompletionResult:
        from nmframe.harmony.encoding import encode_teacher_text, load_harmony_encoding

        prompt_tokens = len(encode_teacher_text(req.prompt))
        budget, clamped = req.max_tokens, False
        if self.max_context:
            room = self.max_context - prompt_tokens
            if room <= 0:
                return CompletionResult.failed(
                    f"prompt is too long: {prompt_tokens} tokens; the maximum context length is {self.max_context} tokens",
                    CONTEXT_OVERFLOW, prompt_tokens=prompt_tokens)
            budget, clamped = min(budget, room), room < budget
        text, why = self.turn_text(req)
        if text is None:
            return CompletionResult.failed(why, REQUEST_ERROR, prompt_tokens=prompt_tokens)
        kept, stop = strip_stop(text, list(req.stop), req.include_stop_str_in_output)
        if stop is None and kept.endswith(RETURN):
            kept = kept[:-len(RETURN)]     # an end-of-sequence token: engines leave it out of the text
        generated = text if stop is None else text[:text.find(stop) + len(stop)]  # the terminator is a token
        ids = encode_teacher_text(generated)
        if len(ids) > budget:
            cut = load_harmony_encoding().decode(ids[:max(0, budget)])
            return CompletionResult(text=cut, prompt_tokens=prompt_tokens, completion_tokens=max(0, budget),
                                    finish_reason="length", context_limited=clamped)
        return CompletionResult(text=kept, prompt_tokens=prompt_tokens, completion_tokens=len(ids),
                                finish_reason="stop", stop_reason=stop)
