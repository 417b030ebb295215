"""Test doubles shipped for the test suite and the benchmarks, never used by a pipeline step.

* :class:`~nmframe.testing.scripted_backend.ScriptedBackend`: a teacher that replays preset turns;
* :class:`~nmframe.testing.completions_server.CompletionsServer`: an OpenAI-compatible HTTP server
  in front of any backend;
* :func:`~nmframe.testing.builtin_teacher.save_builtin_teacher`: a ``builtin:`` teacher written as
  a transformers directory (for engines that load a path, such as vLLM).
"""
