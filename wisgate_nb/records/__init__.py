"""The history: every request's record on disk (store), its files, spending (sums without pandas), the pandas
frames, comparisons and the notebook views. ``Generation`` is a stored result as users hold it."""

from .generation import Generation
from .record import STATUSES, Record, new_id, now_iso
from .store import HISTORY_FILE, History

__all__ = ["HISTORY_FILE", "STATUSES", "Generation", "History", "Record", "new_id", "now_iso"]
