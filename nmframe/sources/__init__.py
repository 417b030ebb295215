"""Readers of the raw forum sources the recipe's problems come from.

* :mod:`.aops`: AoPS-style thread dumps (``forum_post`` + ``forum_discussions``, JSONL or
  Parquet): BBCode and AoPS's old LaTeX macros cleaned, the discussion split into posts;
* :mod:`.stackexchange`: the StackExchange data dump's ``Posts.xml`` (math.stackexchange.com,
  mathoverflow.net), streamed with bounded memory, each question joined with its accepted and
  its top-voted answer, the cut-off date applied and counted, licence and URL per row;
* :mod:`.html`: post bodies from HTML to text with the LaTeX left as written.

Every reader yields :class:`.thread.RawThread` records and counts what it skipped and why in a
``collections.Counter`` the caller passes; nothing is dropped silently.
"""
from .aops import read_aops
from .stackexchange import SITES, read_posts_xml, site_of_path, stackexchange_license
from .thread import Answer, RawThread

__all__ = ["SITES", "Answer", "RawThread", "read_aops", "read_posts_xml", "site_of_path", "stackexchange_license"]
