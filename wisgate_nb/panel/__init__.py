"""The ipywidgets panel: ``wisgate_nb.panel()`` or ``%wisgate_panel``.

    main.py         Panel: the form, Generate/Cancel, the status line, the gallery, the tabs
    slot.py         ResultSlot: one generation's place, filled from the engine thread
    history_tab.py  HistoryTab: records as thumbnails; compare, re-run, rate, tag
    edit.py         EditBox: prompt + optional mask for an edit of a result image
    picker.py       TemplatePicker: saved templates and their fields
    thumbs.py       one shared Image widget per thumbnail
    words.py        errors in plain words, elapsed times, totals
"""

from __future__ import annotations

import sys
import types

from .main import Panel

__all__ = ["Panel"]


class _CallableModule(types.ModuleType):
    """Importing ``wisgate_nb.panel`` rebinds the package attribute ``wisgate_nb.panel`` from the
    function to this module (Python's import system does that for every submodule). Calling the
    module does what the function does, so ``wisgate_nb.panel()`` keeps working either way."""

    def __call__(self, *args, **kwargs):
        from ..api import panel

        return panel(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
