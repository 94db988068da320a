"""The edit action: a prompt and an optional mask (a path or an uploaded PNG) for one result image."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from ..core.plans import plan
from ..errors import ConfigurationError
from ..output import html
from .words import guarded


class EditBox(widgets.VBox):
    """Hidden until an image's Edit… button targets it; Send edit hands a validated request to the panel."""

    def __init__(self, session, *, send: Callable, options: Callable[[], dict], report: Callable):
        self._session = session
        self._submit = send  # send(request, title) -> slot
        self._options = options  # the panel's current options (model, n, quality, ...)
        self.target: tuple | None = None  # (record, image index)
        self._title = widgets.HTML()
        self._prompt = widgets.Textarea(placeholder="what to change, e.g. 'make the sky stormy'",
                                        layout=widgets.Layout(width="100%", height="64px"))
        self._mask_path = widgets.Text(placeholder="optional: path of a mask PNG (transparent = area to edit)",
                                       description="mask file", layout=widgets.Layout(width="480px"))
        self._mask_upload = widgets.FileUpload(accept=".png", multiple=False, description="upload mask")
        self._send_button = widgets.Button(description="Send edit", icon="paint-brush", button_style="primary")
        self._close = widgets.Button(description="Close", icon="times")
        self._send_button.on_click(guarded(self._on_send_click, report))
        self._close.on_click(guarded(self._on_close_click, report))
        super().__init__(
            [self._title, self._prompt, widgets.HBox([self._mask_path, self._mask_upload]),
             widgets.HBox([self._send_button, self._close])],
            layout=widgets.Layout(border="1px solid #9bc", padding="6px", margin="4px 0", display="none"),
        )
        self.add_class("wisgate-edit")

    def show_for(self, record, index: int) -> None:
        """Show the box for image ``index`` of ``record``."""
        self.target = (record, index)
        self._title.value = html.text_html([f"Edit image {index + 1} of ", (html.short(record.prompt, 120), "b"),
                                            f" ({record.id})"], size=13)
        self.layout.display = None

    def hide(self) -> None:
        self.target = None
        self.layout.display = "none"

    def request(self):
        """The validated edits request (raises ConfigurationError with the reason; nothing is sent)."""
        if self.target is None:
            raise ConfigurationError("choose an image to edit first: press Edit… under a result")
        record, index = self.target
        paths = self._session.history.full_paths(record)
        if index >= len(paths) or not paths[index].exists():
            raise ConfigurationError(f"the image file of {record.id} is missing, so it cannot be edited")
        return plan(self._session, self._prompt.value, endpoint="edits", images=[paths[index]], mask=self._mask(),
                    source="panel", **self._options())

    def _mask(self):
        path = self._mask_path.value.strip()
        if path:
            return path  # read and checked when the request is built
        uploaded = self._mask_upload.value
        if uploaded:
            item = uploaded[0]
            return bytes(item["content"])
        return None

    def _on_send_click(self, _button) -> None:
        request = self.request()
        record, index = self.target
        self._submit(request, f"edit of {record.id} #{index + 1}")
        self._mask_upload.value = ()  # the mask's bytes must not stay in the saved widget state
        self.hide()

    def _on_close_click(self, _button) -> None:
        self.hide()
