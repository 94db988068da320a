"""The edit action for one result image: a prompt, an optional mask (painted here, a path or an uploaded PNG)
and optional reference images (up to 15 more: the edits API takes 16)."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from ..core import runner
from ..errors import ConfigurationError
from ..output import html
from .words import guarded

IMAGE_TYPES = ".png,.jpg,.jpeg,.webp"


class EditBox(widgets.VBox):
    """Hidden until an image's Edit… button targets it; Send edit hands a validated request to the panel."""

    def __init__(self, session, *, send: Callable, options: Callable[[], dict], report: Callable):
        self._session = session
        self._submit = send  # send(request, title) -> slot
        self._options = options  # the panel's current options (model, n, quality, ...)
        self.target: tuple | None = None  # (record, image index)
        self.painter = None  # a MaskPainter over the target image, while "paint mask" is on
        self._title = widgets.HTML()
        self._prompt = widgets.Textarea(placeholder="what to change, e.g. 'make the sky stormy'", description="prompt",
                                        style={"description_width": "initial"},
                                        layout=widgets.Layout(width="100%", height="64px"))
        self._paint_button = widgets.ToggleButton(description="paint mask", icon="paint-brush", value=False,
                                                  tooltip="paint the area to change over the image")
        self._mask_path = widgets.Text(placeholder="optional: path of a mask PNG (transparent = area to edit)",
                                       description="mask file", layout=widgets.Layout(width="480px"))
        self._mask_upload = widgets.FileUpload(accept=".png", multiple=False, description="upload mask")
        self._references = widgets.FileUpload(accept=IMAGE_TYPES, multiple=True, description="reference images",
                                              layout=widgets.Layout(width="auto"))
        self._painter_area = widgets.VBox(layout=widgets.Layout(display="none"))
        self._send_button = widgets.Button(description="Send edit", icon="paint-brush", button_style="primary")
        self._close = widgets.Button(description="Close", icon="times")
        self._paint_button.observe(guarded(self._on_paint_toggle, report), names="value")
        self._send_button.on_click(guarded(self._on_send_click, report))
        self._close.on_click(guarded(self._on_close_click, report))
        super().__init__(
            [self._title, self._prompt, widgets.HBox([self._paint_button, self._mask_path, self._mask_upload]),
             self._painter_area, self._references, widgets.HBox([self._send_button, self._close])],
            layout=widgets.Layout(border="1px solid #9bc", padding="6px", margin="4px 0", display="none"),
        )
        self.add_class("wisgate-edit")

    def show_for(self, record, index: int) -> None:
        """Show the box for image ``index`` of ``record``."""
        self.target = (record, index)
        self._paint_button.value = False  # a painter belongs to one image
        self._title.value = html.text_html([f"Edit image {index + 1} of ", (html.short(record.prompt, 120), "b"),
                                            f" ({record.id})"], size=13)
        self.layout.display = None

    def hide(self) -> None:
        self.target = None
        self._paint_button.value = False
        self.layout.display = "none"

    def request(self):
        """The validated edits request (raises ConfigurationError with the reason; nothing is sent)."""
        image = self._target_path()
        images = [image, *(bytes(item["content"]) for item in self._references.value)]
        ask = runner.Ask((self._prompt.value,), endpoint="edits", images=tuple(images), mask=self._mask(),
                         options=self._options(), source="panel")
        request, = runner.plan(self._session, ask)
        return request

    def _target_path(self):
        if self.target is None:
            raise ConfigurationError("choose an image to edit first: press Edit… under a result")
        record, index = self.target
        paths = self._session.history.full_paths(record)
        if index >= len(paths) or not paths[index].exists():
            raise ConfigurationError(f"the image file of {record.id} is missing, so it cannot be edited")
        return paths[index]

    def _mask(self):
        path = self._mask_path.value.strip()
        uploaded = self._mask_upload.value
        if self.painter is not None:
            if path or uploaded:
                raise ConfigurationError("two masks: paint one or give a mask file, not both (turn off "
                                         "'paint mask' to use the file)")
            return self.painter  # checked when the request is built: nothing painted is an error
        if path:
            return path  # read and checked when the request is built
        if uploaded:
            return bytes(uploaded[0]["content"])
        return None

    def _on_paint_toggle(self, change) -> None:
        if change["new"]:
            from .painter import MaskPainter

            try:
                self.painter = MaskPainter(self._target_path())
            except ConfigurationError:
                self._paint_button.value = False
                raise
            self._painter_area.children = (self.painter,)
            self._painter_area.layout.display = None
        else:
            self.painter = None
            self._painter_area.children = ()
            self._painter_area.layout.display = "none"

    def _on_send_click(self, _button) -> None:
        request = self.request()
        record, index = self.target
        extra = len(request.images) - 1
        self._submit(request, f"edit of {record.id} #{index + 1}" + (f" with {extra} reference image(s)"
                                                                      if extra else ""))
        self._mask_upload.value = ()  # the uploaded bytes must not stay in the saved widget state
        self._references.value = ()
        self.hide()

    def _on_close_click(self, _button) -> None:
        self.hide()
