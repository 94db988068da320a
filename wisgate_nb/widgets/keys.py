"""KeyGuard: the keys typed into the panel's fields stay in them.

Notebook 7 runs its single-key shortcuts (``o`` collapses the output, ``a`` adds a cell, the arrow keys move
between cells) even while a select of a widget has the focus: a keyboard user choosing "low" in a dropdown
collapsed the panel instead. This invisible anywidget listens on the window in the capture phase, before the
notebook, and stops a key meant for one of the panel's fields there: the field still gets its default action
(typing, choosing), but no listener after this one sees it. Tab and Escape always pass.
"""

from __future__ import annotations

import anywidget

_ESM = """
function render({ el }) {
  const onKey = (event) => {
    const target = event.composedPath()[0];
    if (!(target instanceof Element) || !target.closest(".wisgate-panel")) return;
    if (!target.matches("select, input, textarea") || ["Tab", "Escape"].includes(event.key)) return;
    event.stopPropagation();
  };
  window.addEventListener("keydown", onKey, true);
  el.style.display = "none";
  return () => window.removeEventListener("keydown", onKey, true);
}
export default { render };
"""


class KeyGuard(anywidget.AnyWidget):
    """Put one inside the panel: keys typed into its fields reach only those fields."""

    _esm = _ESM
