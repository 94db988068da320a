"""wisgate_nb: image generation as a first-class citizen of Jupyter.

    %load_ext wisgate_nb
    %%wisgate_image --size 1024x1024 -n 2
    A lighthouse on a cliff at dusk

or from Python: ``wisgate_nb.generate("a lighthouse", size="1024x1024")``.
Importing this package loads neither pandas, ipywidgets, anywidget nor starlette; they load when first needed.
"""

from __future__ import annotations

from . import templates
from ._version import __version__
from .api import (
    agenerate,
    compare_slider,
    configure,
    edit,
    experiment,
    generate,
    grade,
    history,
    mask_painter,
    panel,
    provenance,
    sessions,
    sweep,
)
from .config import WisGate
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ConfigurationError,
    ContentPolicyError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ResponseFormatError,
    WisGateError,
)
from .records import Generation, History

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ConfigurationError",
    "ContentPolicyError",
    "Generation",
    "History",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "ResponseFormatError",
    "WisGate",
    "WisGateError",
    "__version__",
    "agenerate",
    "compare_slider",
    "configure",
    "edit",
    "experiment",
    "generate",
    "grade",
    "history",
    "load_ipython_extension",
    "mask_painter",
    "panel",
    "provenance",
    "sessions",
    "sweep",
    "templates",
    "unload_ipython_extension",
]


def load_ipython_extension(ip) -> None:
    """``%load_ext wisgate_nb``: register the magics and make ``%config WisGate`` work."""
    from .core.session import current
    from .magic import register

    config = current().config
    config.update_config(ip.config)  # %config WisGate.x set before %load_ext still applies
    if config not in ip.configurables:
        ip.configurables.append(config)
    register(ip)


def unload_ipython_extension(ip) -> None:
    """Make ``%reload_ext wisgate_nb`` clean: magics and the config hook are removed."""
    from .core.session import current
    from .magic import unregister

    unregister(ip)
    config = current().config
    if config in ip.configurables:
        ip.configurables.remove(config)
