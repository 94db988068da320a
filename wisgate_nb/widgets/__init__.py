"""Widgets: the ipywidgets panel and its parts (a front door, like the magic and the API).

    panel.py        Panel: the form, Generate/Cancel, the status line, the gallery, the tabs
    form.py         OptionsForm: one control per image option of the registry
    slot.py         ResultSlot: one generation's place, filled from the engine thread
    history_tab.py  HistoryTab: records as thumbnails; compare, re-run, rate, tag
    edit.py         EditBox: prompt, mask (painted or a file) and reference images for an edit of a result image
    painter.py      MaskPainter: paint the area to change (an anywidget: painter.js + painter.css)
    picker.py       TemplatePicker: saved templates and their fields
    thumbs.py       one shared Image widget per thumbnail
    reload.py       ReloadNote: what the cell still says when reopened without a kernel
    keys.py         KeyGuard: keys typed into the panel's fields stay there (Notebook 7's shortcuts)
    words.py        errors in plain words, elapsed times, totals
"""

from .panel import Panel

__all__ = ["Panel"]
