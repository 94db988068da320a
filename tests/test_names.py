"""Names and settings: who reads the environment, the option registry as the one list, History's public face."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "wisgate_nb"


def _environ_uses(path: Path) -> tuple[bool, bool]:
    """(reads, writes) of ``os.environ`` / ``os.getenv`` / ``os.putenv`` in a module's code."""
    reads = writes = False
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "putenv", "unsetenv"}:
            reads = True
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            writes |= any(isinstance(t, ast.Subscript) and isinstance(t.value, ast.Attribute)
                          and t.value.attr == "environ" for t in targets)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                node.func.attr in {"putenv", "unsetenv"} or node.func.attr in {"update", "pop", "setdefault", "clear"}
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "environ"):
            writes = True
        if isinstance(node, ast.ImportFrom) and node.module == "os" and any(
                a.name in {"environ", "getenv", "putenv"} for a in node.names):
            reads = True
    return reads, writes


def _modules_that(which: int) -> list[str]:
    return sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if _environ_uses(p)[which])


def test_only_config_and_the_gateway_env_read_the_environment():
    """The notebook user's settings come from config.py, the gateway's own variables from gateway/env.py."""
    assert _modules_that(0) == ["config.py", "gateway/env.py"]


def test_only_the_gateway_env_writes_the_environment():
    """config.py, the base layer, never writes os.environ; the gateway hands paths to its workers in one place."""
    assert _modules_that(1) == ["gateway/env.py"]


def test_the_gateway_reads_its_hub_service_environment(monkeypatch):
    from wisgate_nb.gateway import env

    for name in ("JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_URL", "JUPYTERHUB_SERVICE_URL", "JUPYTERHUB_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTERHUB_SERVICE_NAME", "wisgate")
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    assert env.hub_service_env() is None  # a service name without the hub's token is no hub service
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token-0123456789")
    assert env.hub_service_env() == {"name": "wisgate", "api_url": "http://127.0.0.1:8081/hub/api",
                                     "prefix": "/services/wisgate/", "url": ""}
    assert env.hub_client_id("wisgate") == "service-wisgate"
    monkeypatch.setenv("JUPYTERHUB_CLIENT_ID", "custom-client")
    assert env.hub_client_id("wisgate") == "custom-client"


def test_gateway_paths_go_to_the_workers_and_come_back(monkeypatch):
    from wisgate_nb.gateway import env
    from wisgate_nb.gateway.settings import settings_from_environment

    monkeypatch.setenv("WISGATE_GATEWAY_CONFIG", "")  # monkeypatch puts back what was there before the test
    monkeypatch.setenv("WISGATE_GATEWAY_DB", "")
    assert env.gateway_paths() == (None, None)
    env.export_gateway_paths("/srv/gateway.toml", "sqlite:////srv/gateway.db")
    settings = settings_from_environment()
    assert (str(settings.config_path), settings.db_url) == ("/srv/gateway.toml", "sqlite:////srv/gateway.db")


# ---- the option registry, the one list of options ------------------------------------------------------


def _record(quality: str, **params):
    from types import SimpleNamespace

    return SimpleNamespace(model="gpt-image-2", size="1024x1024", quality=quality, n=1, template={"version": "v1"},
                           params={"quality": quality, **params})


def test_a_new_option_is_compared_in_the_registrys_order_without_editing_compare(monkeypatch):
    from wisgate_nb import options
    from wisgate_nb.records.compare import differing_keys

    monkeypatch.setattr(options, "OPTIONS", (*options.OPTIONS, options.Option("seed", "int", "a seed", high=99)))
    records = [_record("low", seed=1, aaa=1, stream=True), _record("high", seed=2, aaa=2, partial_images=2)]
    # a registered option before the template's version and before unknown keys; streaming is no difference
    assert differing_keys(records) == ["quality", "seed", "aaa"]
    records[1].template = {"version": "v2"}
    assert differing_keys(records) == ["quality", "seed", "template_version", "aaa"]


def test_a_new_option_is_labelled_in_image_files_without_editing_provenance(monkeypatch):
    from wisgate_nb import options
    from wisgate_nb.records import provenance

    monkeypatch.setattr(options, "OPTIONS", (*options.OPTIONS, options.Option("seed", "int", "a seed", high=99)))
    record = {"prompt": "a fox", "model": "gpt-image-2", "size": "1024x1024", "n": 2, "quality": "low",
              "params": {"seed": 7, "output_format": "webp", "stream": True, "partial_images": 2}}
    info = provenance.facts(record, request_id="req_1")
    assert "stream" not in info["params"] and "partial_images" not in info["params"]
    text = provenance.parameters_text(info)
    assert text == ("a fox\nModel: gpt-image-2, Size: 1024x1024, Quality: low, Format: webp, Seed: 7, "
                    f"Batch size: 2, Request id: req_1, Version: wisgate_nb {info['version']}")
    assert provenance.parse_parameters(text)["params"] == {"size": "1024x1024", "n": "2", "quality": "low",
                                                           "output_format": "webp", "seed": "7"}


# ---- History's public face ----------------------------------------------------------------------------

# What a notebook user reaches for (DESIGN.md, the README, the notebooks); ``folder`` and ``session`` are attributes.
HISTORY_FOR_USERS = {"load", "df", "images_df", "grades_df", "records", "select", "results", "usage", "totals",
                     "compare", "to_csv", "to_parquet", "contact_sheet", "rate", "tag", "annotate"}
# The package's own, public still because core/ (recording, session), grading/ and widgets/ call them.
HISTORY_FOR_THE_PACKAGE = {"create", "append", "update", "ensure_folder", "folder_of", "full_paths", "thumb_paths",
                           "grade_book"}


def test_history_shows_what_users_need_and_names_the_rest():
    """A new public member of History is a decision: add it to one of the sets above, or give it a ``_``."""
    from wisgate_nb.records.store import History

    assert {name for name in dir(History) if not name.startswith("_")} == HISTORY_FOR_USERS | HISTORY_FOR_THE_PACKAGE


def test_the_panels_model_list_is_the_registrys():
    """The panel offers the models the registry knows (one list: a model added there is offered here)."""
    from wisgate_nb import options
    from wisgate_nb.config import WisGate
    from wisgate_nb.widgets.form import OptionsForm

    offered = OptionsForm(WisGate(api_key="sk-x"))["model"].options
    assert tuple(offered) == options.KNOWN_MODELS
