"""StaticCopy: what a saved notebook keeps of a live tool (the compare slider, the mask painter).

A widget is not kept in a saved notebook: reopened without its kernel it reads "Error displaying widget: model
not found", and nbconvert (nbviewer, GitHub) shows its repr. So a tool is displayed with a second output beside
it: a static picture and a line of text that say its state (the painter's painted area, the slider's two images).
The copy has a display id and is updated whenever the state changes (an update replaces only the copy, never the
widget view, which keeps its focus), so what the notebook saves is true. While the tool is live, a rule of the
tool's own CSS (``.<cls> {display: none}``) hides the copy; without the tool's view there is no rule, and the
copy shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import html

PX = 320  # each picture of a copy is at most this wide: a saved notebook stays small


class StaticCopy:
    """The copy's display handles (one per time the tool was displayed)."""

    def __init__(self, cls: str, make: Callable[[], tuple[Sequence[html.Tile], str]]):
        self.cls = cls  # the CSS class the tool's own stylesheet hides
        self._make = make  # () -> (pictures, text): the tool's state now
        self._handles: list = []

    def bundle(self) -> dict[str, str]:
        tiles, text = self._make()
        return {"text/html": html.copy_html(self.cls, tiles, text, PX), "text/plain": text}

    def display_beside(self, widget) -> None:
        """Display the tool's own view, then this copy (the tool's ``_ipython_display_``)."""
        from IPython.display import display

        bundle = widget._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})  # anywidget gives both
        display(data, metadata=metadata, raw=True)
        self.show()

    def show(self) -> None:
        """Display the copy (right after the tool's own output)."""
        from IPython.display import display

        handle = display(self.bundle(), raw=True, display_id=True)
        if handle is not None:
            self._handles.append(handle)

    def update(self) -> None:
        """The tool's state changed: every copy of it on the page says so."""
        if self._handles:
            bundle = self.bundle()
            for handle in list(self._handles):
                handle.update(bundle, raw=True)
