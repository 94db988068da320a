"""The panel's option controls, one per image option of the registry (``options.OPTIONS``).

A control per kind: a Combobox for the model, a size dropdown with a custom ``WxH`` box, a dropdown
for n, a dropdown for a choice ("server default" first), a text box for other numbers and texts, a
dropdown of partial previews per image for streaming. Options marked ``panel="main"`` sit in the first rows, the others under
"more options": a toggle button (a real <button>, reached with Tab, pressed with Enter or Space; an ipywidgets
Accordion's header is skipped by Tab). Values are checked by the registry when a request is built, never here.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from .. import options as registry
from ..errors import ConfigurationError

SIZES = ("1024x1024", "1536x1024", "1024x1536", "512x512", "auto")
CUSTOM = "custom"
SERVER_DEFAULT = "server default"
_WIDE = widgets.Layout(width="220px")


class OptionsForm:
    """The controls of every front-door option; ``values(endpoint)`` reads them as ``plan`` takes them."""

    def __init__(self, config):
        self.controls: dict[str, widgets.Widget] = {}
        for option in registry.FRONT_DOOR:
            self.controls[option.name] = _control(option, getattr(config, option.name, None))
            self.controls[option.name].tooltip = option.help
        size = self.controls["size"]
        value = config.size or "1024x1024"
        self.custom_size = widgets.Text(value="" if value in SIZES else value, placeholder="WxH, e.g. 1280x720",
                                        description="custom size", style={"description_width": "initial"},
                                        layout=widgets.Layout(width="240px"), disabled=value in SIZES)
        size.observe(lambda change: setattr(self.custom_size, "disabled", change["new"] != CUSTOM), names="value")
        more = [self.controls[o.name] for o in registry.FRONT_DOOR if o.panel != "main"]
        for control in more:
            control.style.description_width = "initial"  # "compression", "input fidelity": whole, not cut off
        self.more = widgets.HBox(more, layout=widgets.Layout(flex_flow="row wrap", display="none"))
        self.more_button = widgets.ToggleButton(description="more options", icon="chevron-right", value=False,
                                                tooltip="show the other image options",
                                                layout=widgets.Layout(width="auto", align_self="flex-start"))
        self.more_button.add_class("wisgate-more-options")
        self.more_button.observe(self._on_more_toggle, names="value")

    def __getitem__(self, name: str) -> widgets.Widget:
        return self.controls[name]

    def rows(self) -> list[widgets.Widget]:
        """The main rows, then the "more options" button and the other options, shown while it is pressed."""
        main = [self.controls[o.name] for o in registry.FRONT_DOOR if o.panel == "main"]
        first = [*main[:2], self.custom_size]
        wrap = widgets.Layout(flex_flow="row wrap")
        return [widgets.HBox(first, layout=wrap), widgets.HBox(main[2:], layout=wrap), self.more_button, self.more]

    def _on_more_toggle(self, change) -> None:
        self.more.layout.display = None if change["new"] else "none"
        self.more_button.icon = "chevron-down" if change["new"] else "chevron-right"

    def values(self, endpoint: str = "generations") -> dict[str, Any]:
        """The options as ``plan`` takes them; unset ones are None (the session's defaults apply)."""
        values = {}
        for option in registry.FRONT_DOOR:
            if endpoint in option.endpoints:
                values[option.name] = self._read(option)
        if endpoint == "edits":
            values.pop("size", None)  # an edit keeps the image's size
        return values

    def _read(self, option: registry.Option) -> Any:
        widget = self.controls[option.name]
        if option.name == "size":
            if widget.value != CUSTOM:
                return widget.value
            if not self.custom_size.value.strip():
                raise ConfigurationError("type a custom size as WIDTHxHEIGHT, e.g. 1280x720")
            return self.custom_size.value.strip()
        value = widget.value
        if isinstance(value, str):
            value = value.strip()
        return None if value in ("", None) else value

    def set(self, name: str, value: Any) -> None:
        """Fill one control from code (``panel.generate(prompt, size=...)``)."""
        if name not in self.controls:
            raise ConfigurationError(f"the panel has no field {name}{registry.suggest(name, self.controls)}; "
                                     f"it has {', '.join(self.controls)}")
        widget = self.controls[name]
        if name == "size" and value not in SIZES:
            widget.value, self.custom_size.value = CUSTOM, str(value)
            return
        offered = [o[1] if isinstance(o, tuple) else o for o in widget.options] if isinstance(
            widget, widgets.Dropdown) else None
        if offered is not None and value not in offered:
            registry.BY_NAME[name].check(value)  # the registry's own words for a bad value
            widget.options = [*widget.options, (str(value), value)]
        try:
            widget.value = value if not isinstance(widget, widgets.Text) else str(value)
        except Exception as exc:  # a traitlets error
            raise ConfigurationError(f"the panel's {name} cannot be {value!r}: {exc}") from None


def _control(option: registry.Option, default: Any) -> widgets.Widget:
    label = option.name.replace("output_", "").replace("_", " ")
    if option.name == "model":
        return widgets.Combobox(value=default or registry.KNOWN_MODELS[0],
                                options=[m for m in dict.fromkeys((default, *registry.KNOWN_MODELS)) if m],
                                ensure_option=False, description=label)
    if option.kind == "size":
        value = default or "1024x1024"
        return widgets.Dropdown(options=[*SIZES, CUSTOM], value=value if value in SIZES else CUSTOM,
                                description=label, layout=_WIDE)
    if option.name == "n":  # a dropdown, not an IntSlider: the slider's handle has no name a screen reader can say
        return widgets.Dropdown(options=list(range(option.low, option.high + 1)), value=default or 1,
                                description=label, layout=_WIDE)
    if option.kind == "choice":
        choices = [(SERVER_DEFAULT, ""), *((c, c) for c in option.choices)]
        if default and default not in option.choices:
            choices.append((default, default))
        return widgets.Dropdown(options=choices, value=default or "", description=label, layout=_WIDE)
    if option.kind == "stream":
        counts = [(f"{k} per image", k) for k in range(1, registry.BY_NAME["partial_images"].high + 1)]
        return widgets.Dropdown(options=[("off", ""), *counts], value="", description="previews", layout=_WIDE)
    hint = f"{option.low}-{option.high}, empty: server default" if option.kind == "int" else "empty: server default"
    return widgets.Text(value="" if default is None else str(default), placeholder=hint, description=label,
                        layout=_WIDE)
