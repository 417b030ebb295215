"""Preparation of problems from raw forum data: the LLM steps of the recipe, rules first.

The recipe turns forum threads into clean problems with reference answers: extract the
problem(s) from a post (:mod:`.extract`), the final answer from the discussion
(:mod:`.answers`), remove proof / multiple-choice / yes-no / invalid problems
(:mod:`.classify`) and benchmark copies (:mod:`.decontam`). Each stage tries cheap rules first
and asks the LLM (:mod:`.llm`, through the generation backends) only about the rows the rules
cannot settle; every decision carries ``decided_by`` (rule | llm | none) and its reason
(:mod:`.decision`). Prompts are small versioned files (:mod:`.prompts`); reply parsers
(:mod:`.parse`) turn a malformed reply into "no decision", never into a label.
"""
from .decision import LLM, NONE, RULE, Decision, no_decision
from .llm import PrepLLM, Reply, open_prep_llm
from .parse import Unreadable, parse_final_answer, parse_problems, parse_yes_no

__all__ = [
           "LLM",
           "NONE",
           "RULE",
           "Decision",
           "PrepLLM",
           "Reply",
           "Unreadable",
           "no_decision",
           "open_prep_llm",
           "parse_final_answer",
           "parse_problems",
           "parse_yes_no",
]
