"""What papers tells the apps above it, which it may not import (topics, search).

Both are sent with `paper_ids`, a list of the papers that have just got a vector.
"""

from __future__ import annotations

from django.dispatch import Signal

# After each stored chunk of vectors: topics joins the papers to their nearest topic.
embeddings_stored = Signal()
# Once an embedding run is done (not per chunk): search makes their similar lists ahead.
embedding_run_finished = Signal()
