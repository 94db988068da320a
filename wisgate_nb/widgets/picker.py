"""The template picker: choose a saved prompt template and fill in its fields."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from .. import templates
from ..output import html
from .words import guarded

NO_TEMPLATE = "(no template)"


class TemplatePicker(widgets.VBox):
    """A dropdown of saved templates and one text box per field of the chosen one."""

    def __init__(self, report: Callable[[BaseException], None], on_change: Callable | None = None):
        self._report = report
        self._on_change = on_change
        self._inputs: dict[str, widgets.Text] = {}
        self._choice = widgets.Dropdown(options=[NO_TEMPLATE], value=NO_TEMPLATE, description="template",
                                        layout=widgets.Layout(width="320px"))
        self._reload = widgets.Button(icon="refresh", tooltip="reload the saved templates",
                                      layout=widgets.Layout(width="36px"))
        self._info = widgets.HTML()
        self._fields = widgets.VBox()
        self._choice.observe(guarded(self._on_choice_change, report), names="value")
        self._reload.on_click(guarded(self._on_reload_click, report))
        super().__init__([widgets.HBox([self._choice, self._reload, self._info]), self._fields])
        self.reload()

    @property
    def name(self) -> str | None:
        """The chosen template's name, or None."""
        value = self._choice.value
        return None if value in (None, NO_TEMPLATE) else value

    @property
    def inputs(self) -> dict[str, widgets.Text]:
        """Field name -> its text box (for tests and for filling in from code)."""
        return dict(self._inputs)

    def reload(self) -> None:
        """Read the saved template names again (keeps the choice if it still exists)."""
        try:
            found = templates.names()
        except Exception as exc:
            found = []
            self._report(exc)
        current = self._choice.value
        self._choice.options = [NO_TEMPLATE, *found]
        self._choice.value = current if current in found else NO_TEMPLATE
        self._info.value = "" if found else html.text_html("no saved templates", tone="faint")

    def fields(self) -> dict[str, str]:
        """The values typed in; empty boxes are left out so the template's defaults apply."""
        return {name: box.value for name, box in self._inputs.items() if box.value.strip()}

    def _on_reload_click(self, _button) -> None:
        self.reload()

    def _on_choice_change(self, _change) -> None:
        self._inputs = {}
        if self.name is not None:
            template = templates.get(self.name)
            for field in template.fields:
                default = template.defaults.get(field)
                self._inputs[field] = widgets.Text(
                    value=default or "", description=field, placeholder="required" if default is None else "",
                    layout=widgets.Layout(width="480px"), style={"description_width": "120px"})
            self._info.value = html.text_html(f"v{template.version}: {len(template.fields)} fields; the prompt box "
                                              "adds detail", tone="muted")
        else:
            self._info.value = ""
        self._fields.children = tuple(self._inputs.values())
        if self._on_change is not None:
            self._on_change(self.name)
