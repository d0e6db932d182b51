"""What papers tells the apps above it, which it may not import (topics, search, follows).

The embedding signals are sent with `paper_ids`, a list of the papers that have just got a
vector; `papers_arrived` with the ids of papers just stored for the first time, and
`code_events_recorded` with `event_ids`, code events just recorded.
"""

from __future__ import annotations

from django.dispatch import Signal

# After each stored chunk of vectors: topics joins the papers to their nearest topic.
embeddings_stored = Signal()
# Once an embedding run is done (not per chunk): search makes their similar lists ahead.
embedding_run_finished = Signal()
# New papers stored (inside the upsert's transaction): follows matches them after commit.
papers_arrived = Signal()
# A code check found code or weights released, or code promised: follows alerts them.
code_events_recorded = Signal()
