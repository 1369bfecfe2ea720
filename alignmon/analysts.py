"""What the analysts' database holds: the k-safe objects of the pipeline and of the alignment model (docs/analysts.md).

Nothing else is published (pipeline.snapshot); the per-person tables stay in the pipeline's own file.
"""

from __future__ import annotations

from alignment import views
from pipeline import schema

ANALYSTS_OBJECTS: tuple[str, ...] = (*schema.PUBLISHED, *views.PUBLISHED)
