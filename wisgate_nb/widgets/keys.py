"""KeyGuard: the keys typed into the panel's fields stay in them.

Notebook 7 runs its single-key shortcuts (``o`` collapses the output, ``a`` adds a cell, the arrow keys move
between cells) even while a select of a widget or a tab of its tab bar has the focus: a keyboard user choosing
"low" in a dropdown collapsed the panel, and the arrow keys never reached the Generate | History tabs. This
invisible anywidget listens on the window in the capture phase, before the notebook:
- a key meant for one of the panel's fields stops there: the field still gets its default action (typing,
  choosing), but no listener after this one sees it;
- a key on one of the panel's tabs is marked handled (``preventDefault``): the notebook's shortcuts skip a
  handled key, and the tab bar's own listener (which does not look) still moves between tabs and selects one.
Tab and Escape always pass.
"""

from __future__ import annotations

import anywidget

_ESM = """
function render({ el }) {
  const onKey = (event) => {
    const target = event.composedPath()[0];
    if (!(target instanceof Element) || !target.closest(".wisgate-panel")) return;
    if (["Tab", "Escape"].includes(event.key)) return;
    if (target.matches("select, input, textarea")) event.stopPropagation();
    else if (target.matches(".lm-TabBar-tab")) event.preventDefault();
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
