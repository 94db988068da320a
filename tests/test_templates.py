"""Prompt templates: text rules, versions, the TOML file, errors, and every front door in demo mode."""

from __future__ import annotations

import threading

import pytest
import tomllib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wisgate_nb
from wisgate_nb import templates
from wisgate_nb.errors import ConfigurationError

PRODUCT_SHOT = "{subject} on a {background} background, {style}, soft studio lighting, centered"


@pytest.fixture
def store(tmp_path):
    """Templates read and written in a fresh file under tmp_path."""
    path = tmp_path / "wisgate_templates.toml"
    templates.set_file(path)
    try:
        yield path
    finally:
        templates.set_file(None)


@pytest.fixture
def product_shot(store):
    return templates.save("product-shot", PRODUCT_SHOT, background="white", style="photorealistic")


# -- text: fields, rendering, literal braces ----------------------------------------------------

def test_fields_in_order_of_first_appearance():
    t = templates.Template("t", 1, "{b} and {a}, then {b} again {{not}} {c}", {})
    assert t.fields == ("b", "a", "c")
    assert t.required == ("b", "a", "c")


def test_render_fills_defaults_and_str_values_and_literal_braces():
    t = templates.Template("t", 1, "{{{subject}}} x{n} {style} }}", {"style": "flat"})
    assert t.render(subject="fox", n=3) == "{fox} x3 flat }"
    assert t.render(subject="fox", n=3, style="ink") == "{fox} x3 ink }"
    assert t.render(subject="fox", n=3, style=None) == "{fox} x3 flat }"  # None: not given


def test_render_is_pure_text_substitution():
    class Loud:
        def __format__(self, spec):  # pragma: no cover - must never be called
            raise AssertionError("format() was called")

        def __str__(self):
            return "loud"

    t = templates.Template("t", 1, "{a} {b}", {})
    # Values are inserted as they are: braces in values are not parsed again, nothing is looked up.
    assert t.render(a="{b} {0.__class__}", b=Loud()) == "{b} {0.__class__} loud"


def test_fields_may_be_named_like_parameters(store):
    templates.save("t", "{name} {text} {self} {fields} {version}", name="n", text="t")
    prompt, _ = templates.render_template("t", {"self": "s", "fields": "f", "version": 2})
    assert prompt == "n t s f 2"
    assert templates.get("t").render(self="s", fields="f", version=2) == prompt


def test_template_is_frozen_and_hashable():
    t = templates.Template("t", 1, "{a}", {"a": 1})
    assert t.defaults == {"a": "1"}
    assert hash(t) == hash(templates.Template("t", 1, "{a}", {"a": "1"}))
    with pytest.raises(AttributeError):
        t.text = "other"  # type: ignore[misc]


@pytest.mark.parametrize("text", [
    "{", "}", "a } b", "{subject", "{}", "{0}", "{a.b}", "{a[0]}", "{a!r}", "{a!s}", "{a:>10}", "{a:}",
    "{a:{b}}", "{ a }", "{a-b}", "", "   ",
])
def test_invalid_text_is_refused_at_save_and_nothing_is_written(store, text):
    with pytest.raises(ConfigurationError) as info:
        templates.save("bad", text)
    assert "bad" in str(info.value)
    assert not store.exists()


def test_attribute_access_is_refused_with_a_clear_message(store):
    with pytest.raises(ConfigurationError, match=r"only plain field names.*\{\{ and \}\}"):
        templates.save("t", "{subject.__class__.__mro__}")


@pytest.mark.parametrize("name", ["", "a b", "a@b", "-x", ".x", "a/b", "a:b", "ü", "x\n", 3, None])
def test_invalid_names_are_refused(store, name):
    with pytest.raises(ConfigurationError, match="invalid template name"):
        templates.save(name, "{a}")


@pytest.mark.parametrize("name", ["product-shot", "a", "v1.2_final", "9lives", "UPPER"])
def test_valid_names(store, name):
    assert templates.get(templates.save(name, "{a}").name).name == name


def test_default_for_a_field_not_in_the_text(store):
    with pytest.raises(ConfigurationError, match=r"'subjet', which is not a field \(did you mean 'subject'\?\)"):
        templates.save("t", "{subject}", subjet="x")


def test_unencodable_text_is_refused(store):
    with pytest.raises(ConfigurationError, match="not valid Unicode"):
        templates.save("t", "a \ud800 b")
    with pytest.raises(ConfigurationError, match="not valid Unicode"):
        templates.save("t", "{a}", a="\udfff")


# -- saving, versions, rendering by name -----------------------------------------------------

def test_save_and_get(product_shot):
    assert product_shot == templates.Template("product-shot", 1, PRODUCT_SHOT,
                                              {"background": "white", "style": "photorealistic"})
    assert product_shot.fields == ("subject", "background", "style")
    assert templates.get("product-shot") == product_shot
    assert templates.names() == ["product-shot"]


def test_versioning(store, product_shot):
    before = store.read_bytes()
    same = templates.save("product-shot", PRODUCT_SHOT, style="photorealistic", background="white")
    assert same.version == 1 and store.read_bytes() == before  # unchanged: no new version, file untouched

    v2 = templates.save("product-shot", PRODUCT_SHOT + ", 85mm", background="white", style="photorealistic")
    v3 = templates.save("product-shot", PRODUCT_SHOT + ", 85mm", background="grey", style="photorealistic")
    v4 = templates.save("product-shot", PRODUCT_SHOT, background="white", style="photorealistic")  # a revert
    assert [v2.version, v3.version, v4.version] == [2, 3, 4]
    assert [t.version for t in templates.versions("product-shot")] == [1, 2, 3, 4]
    assert templates.get("product-shot") == v4
    assert templates.get("product-shot", 2) == v2 == templates.get("product-shot@2")
    assert templates.get("product-shot", 1) == product_shot  # old versions stay readable
    assert templates.render_template("product-shot@3", {"subject": "a mug"})[0] == (
        "a mug on a grey background, photorealistic, soft studio lighting, centered, 85mm")


def test_names_are_sorted(store):
    for name in ("zebra", "apple", "mango"):
        templates.save(name, "{x}")
    assert templates.names() == ["apple", "mango", "zebra"]


def test_render_template_returns_prompt_and_history_info(product_shot):
    prompt, info = templates.render_template("product-shot", {"subject": "red sneaker", "style": 3})
    assert prompt == "red sneaker on a white background, 3, soft studio lighting, centered"
    assert info == {"name": "product-shot", "version": 1,
                    "fields": {"subject": "red sneaker", "background": "white", "style": "3"}}


@pytest.mark.parametrize(("extra", "expected_tail"), [
    (None, "centered"),
    ("", "centered"),
    ("  \n ", "centered"),
    ("laces untied", "centered, laces untied"),
    ("  laces untied\n", "centered, laces untied"),
    ("Line one.\nLine two.", "centered, Line one.\nLine two."),
])
def test_extra_detail_is_appended(product_shot, extra, expected_tail):
    prompt, _ = templates.render_template("product-shot", {"subject": "mug"}, extra=extra)
    assert prompt.endswith(expected_tail)


@pytest.mark.parametrize(("prompt", "extra", "joined"), [
    ("A fox.", "In snow.", "A fox. In snow."),
    ("A fox!", "x", "A fox! x"),
    ("a fox,", "x", "a fox, x"),
    ("a fox  ", "x", "a fox, x"),
    ("a fox", "x", "a fox, x"),
])
def test_join_extra(prompt, extra, joined):
    assert templates.join_extra(prompt, extra) == joined


# -- every bad-template case is a clear error ----------------------------------------------

def test_unknown_template_with_did_you_mean(product_shot):
    with pytest.raises(ConfigurationError, match=r"unknown template 'prodcut-shot' \(did you mean 'product-shot'\?\)"):
        templates.render_template("prodcut-shot", {"subject": "x"})
    with pytest.raises(ConfigurationError, match=r"unknown template 'zzz'; saved templates .*: product-shot"):
        templates.get("zzz")


def test_unknown_template_when_none_are_saved(store):
    with pytest.raises(ConfigurationError, match=r"no templates are saved .* yet.*%%wisgate_template"):
        templates.get("product-shot")
    assert templates.names() == []


def test_unknown_field_with_did_you_mean_and_the_field_list(product_shot):
    with pytest.raises(ConfigurationError) as info:
        templates.render_template("product-shot", {"subject": "x", "backgrund": "red"})
    message = str(info.value)
    assert "no field 'backgrund' (did you mean 'background'?)" in message
    assert "subject, background, style" in message


def test_missing_field_is_named_with_the_required_fields(product_shot):
    with pytest.raises(ConfigurationError) as info:
        templates.render_template("product-shot", {"style": "ink"})
    message = str(info.value)
    assert "needs a value for subject" in message
    assert "required fields: subject" in message
    assert "fields with defaults: background, style" in message
    with pytest.raises(ConfigurationError, match="needs a value for subject"):
        templates.render_template("product-shot", {"subject": None})


@pytest.mark.parametrize(("name", "match"), [
    ("product-shot@0", "pin a version with a number"),
    ("product-shot@two", "pin a version with a number"),
    ("product-shot@", "pin a version with a number"),
    ("product-shot@7", "has no version 7; it has versions 1"),
])
def test_bad_version_pins(product_shot, name, match):
    with pytest.raises(ConfigurationError, match=match):
        templates.render_template(name, {"subject": "x"})


def test_pin_and_version_disagree(product_shot):
    with pytest.raises(ConfigurationError, match="disagree"):
        templates.get("product-shot@1", 2)


def test_list_values_are_refused(product_shot):
    with pytest.raises(ConfigurationError, match="single value"):
        templates.render_template("product-shot", {"subject": ["a", "b"]})


def test_errors_are_value_errors(product_shot):
    with pytest.raises(ValueError):
        templates.get("nope")


# -- the TOML file ----------------------------------------------------------------------------

def test_the_file_is_readable_toml(store, product_shot):
    templates.save("logo", 'A "{word}" logo \\ {{braces}}\nsecond line\ttab')
    text = store.read_text(encoding="utf-8")
    assert text.endswith(
        "[[templates.product-shot]]\n"
        "version = 1\n"
        'text = "{subject} on a {background} background, {style}, soft studio lighting, centered"\n'
        'defaults = { background = "white", style = "photorealistic" }\n'
        "\n"
        "[[templates.logo]]\n"
        "version = 1\n"
        'text = "A \\"{word}\\" logo \\\\ {{braces}}\\nsecond line\\ttab"\n'
    )
    data = tomllib.loads(text)
    assert data["templates"]["logo"][0]["text"] == 'A "{word}" logo \\ {{braces}}\nsecond line\ttab'
    assert data["templates"]["product-shot"][0]["defaults"] == {"background": "white", "style": "photorealistic"}


def test_names_and_fields_that_are_not_bare_keys_are_quoted(store):
    templates.save("v1.2", "{café}", café="au lait")
    text = store.read_text(encoding="utf-8")
    assert '[[templates."v1.2"]]' in text and 'defaults = { "café" = "au lait" }' in text
    assert templates.get("v1.2").render() == "au lait"


def test_round_trip_through_the_file(store, product_shot):
    templates.save("product-shot", PRODUCT_SHOT + ".", background="white", style="photorealistic")
    templates.save("logo", "{word}")
    loaded = templates.loads(store.read_text(encoding="utf-8"))
    assert loaded == {"product-shot": templates.versions("product-shot"), "logo": templates.versions("logo")}
    assert templates.loads(templates.dumps(loaded)) == loaded


def test_a_hand_written_file_loads(store):
    store.write_text(
        "# our templates\n"
        "[[templates.product-shot]]\n"
        "version = 1\n"
        f'text = "{PRODUCT_SHOT}"\n'
        'defaults = { background = "white", style = "photorealistic" }\n', encoding="utf-8")
    assert templates.get("product-shot").render(subject="mug").startswith("mug on a white background")


def test_versions_missing_are_numbered_in_order(store):
    store.write_text('[[templates.t]]\ntext = "one {a}"\n\n[[templates.t]]\ntext = "two {a}"\n'
                     '\n[[templates.t]]\ntext = """three\n{a}"""\n', encoding="utf-8")
    assert [(t.version, t.text) for t in templates.versions("t")] == [(1, "one {a}"), (2, "two {a}"),
                                                                      (3, "three\n{a}")]


def test_versions_out_of_order_are_sorted(store):
    store.write_text('[[templates.t]]\nversion = 2\ntext = "b"\n[[templates.t]]\nversion = 1\ntext = "a"\n',
                     encoding="utf-8")
    assert [t.text for t in templates.versions("t")] == ["a", "b"]
    assert templates.get("t").text == "b"


def test_saving_appends_and_keeps_comments_and_layout(store):
    original = ("# reviewed by the art team\n"
                "[[templates.t]]\n"
                "text = 'literal {a}'  # a literal string\n"
                "defaults.a = 'x'\n")
    store.write_text(original, encoding="utf-8")
    v2 = templates.save("t", "new {a}")
    assert v2.version == 2 and v2.defaults == {}
    text = store.read_text(encoding="utf-8")
    assert text.startswith(original)
    assert text[len(original):] == '\n[[templates.t]]\nversion = 2\ntext = "new {a}"\n'
    assert templates.get("t", 1).defaults == {"a": "x"}


def test_saving_keeps_crlf_line_endings(store):
    store.write_bytes(b'[[templates.t]]\r\ntext = "a"')  # no final newline
    templates.save("t", "b")
    data = store.read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert [t.text for t in templates.versions("t")] == ["a", "b"]


def test_a_single_table_is_one_version_and_saving_rewrites_the_file(store):
    # [templates.t] cannot be extended with [[templates.t]]: the file is rewritten in the standard form.
    store.write_text('[templates.t]\ntext = "one {a}"\ndefaults = { a = "x" }\n', encoding="utf-8")
    assert templates.get("t") == templates.Template("t", 1, "one {a}", {"a": "x"})
    templates.save("t", "two {a}")
    assert [(t.version, t.text) for t in templates.versions("t")] == [(1, "one {a}"), (2, "two {a}")]
    assert "[[templates.t]]" in store.read_text(encoding="utf-8")


def test_defaults_given_as_numbers_in_the_file(store):
    store.write_text('[[templates.t]]\ntext = "{n} {x}"\ndefaults = { n = 3, x = 1.5 }\n', encoding="utf-8")
    assert templates.get("t").render() == "3 1.5"


@pytest.mark.parametrize(("content", "match"), [
    ("[[templates.t]\ntext = 'a'", "is not valid TOML"),
    ("[[template.t]]\ntext = 'a'", r"unexpected 'template' \(did you mean 'templates'\?\)"),
    ("templates = 3", "must be a table"),
    ("[[templates.t]]\ntxt = 'a'", r"unknown key 'txt' \(did you mean 'text'\?\)"),
    ("[[templates.t]]\ntext = 'a'\ndefault = {}", r"unknown key 'default' \(did you mean 'defaults'\?\)"),
    ("[[templates.t]]\nversion = 1", r"needs text"),
    ("[[templates.t]]\ntext = 3", r"needs text"),
    ("[[templates.t]]\ntext = 'a'\n[[templates.t]]\nversion = 1\ntext = 'b'", "version 1 appears twice"),
    ("[[templates.t]]\nversion = 0\ntext = 'a'", "version must be a whole number"),
    ("[[templates.t]]\nversion = '1'\ntext = 'a'", "version must be a whole number"),
    ("[[templates.t]]\ntext = '{a}'\ndefaults = 'x'", "defaults must be a table"),
    ("[[templates.t]]\ntext = '{a}'\ndefaults = { a = [1] }", "defaults must be a table"),
    ("[[templates.t]]\ntext = '{a}'\ndefaults = { b = 'x' }", "default for 'b', which is not a field"),
    ("[[templates.t]]\ntext = '{a.b}'", "only plain field names"),
    ("[[templates.t]]\ntext = 'a {'", "unmatched brace"),
    ('[[templates."a b"]]\ntext = "x"', "invalid template name"),
    ("[templates]\nt = 'text'", r"write each version as a \[\[templates.t\]\] table"),
])
def test_malformed_files_are_clear_errors(store, content, match):
    store.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=match) as info:
        templates.names()
    assert str(store) in str(info.value)
    with pytest.raises(ConfigurationError):
        templates.save("other", "{x}")  # never overwrite a file that cannot be read
    assert store.read_text(encoding="utf-8") == content


def test_default_file_is_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    templates.set_file(None)
    templates.save("t", "{a}")
    assert (tmp_path / "wisgate_templates.toml").exists()
    assert templates.names() == ["t"]


def test_no_temporary_files_are_left(store, product_shot):
    templates.save("product-shot", "{subject} v2")
    assert [p.name for p in store.parent.iterdir()] == [store.name]


def test_concurrent_saves_all_land(store):
    threads = [threading.Thread(target=templates.save, args=(f"t{i}", f"{{a}} {i}")) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert templates.names() == sorted(f"t{i}" for i in range(8))


# Any text TOML can hold: no lone surrogates (not valid Unicode), everything else allowed.
_any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
_field_names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)


@given(_any_text)
def test_toml_strings_round_trip(value):
    assert tomllib.loads(f"k = {templates.toml._toml_string(value)}")["k"] == value


@st.composite
def _template_texts(draw):
    """Template text built from arbitrary literal text (its braces doubled) and plain fields."""
    parts = draw(st.lists(st.tuples(_any_text, st.one_of(st.none(), _field_names)), min_size=1, max_size=5))
    text = "".join(lit.replace("{", "{{").replace("}", "}}") + (f"{{{f}}}" if f else "") for lit, f in parts)
    return text if text.strip() else text + "x"


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(text=_template_texts(), values=st.lists(_any_text, min_size=5, max_size=5))
def test_save_and_reload_round_trip_exactly(store, text, values):
    store.unlink(missing_ok=True)
    fields = templates.Template("p", 1, text, {}).fields
    defaults = dict(zip(fields, values))
    saved = templates.save("p", text, **defaults)
    reloaded = templates.loads(store.read_text(encoding="utf-8"))["p"]
    assert reloaded == [saved]
    assert reloaded[0].text == text and reloaded[0].defaults == defaults
    assert reloaded[0].render() == saved.render()
    # Saving the same again changes nothing; a change is a new version, the old one intact.
    assert templates.save("p", text, **defaults).version == 1
    assert templates.save("p", text + " {{x}}", **defaults).version == 2
    assert templates.get("p", 1) == saved


# -- every front door, end to end in demo mode -------------------------------------------------

@pytest.fixture
def demo(tmp_path, store):
    """A fresh demo-mode session (history under tmp_path) and a fresh template file."""
    from wisgate_nb.config import WisGate
    from wisgate_nb.core.session import Session, set_current

    session = Session(WisGate(demo=True, history_dir=str(tmp_path / "runs")))
    old = set_current(session)
    try:
        yield session
    finally:
        session.close()
        set_current(old)


def _studio():
    return templates.save("studio", "{subject} under {lighting} light, {lens} lens", lighting="soft", lens="50mm")


def test_generate_with_a_template_records_name_version_and_fields(demo, product_shot):
    result = wisgate_nb.generate("laces untied", template="product-shot", subject="red sneaker")
    expected = ("red sneaker on a white background, photorealistic, soft studio lighting, centered, "
                "laces untied")
    assert result.prompt == expected
    record = wisgate_nb.history().records[-1]
    assert record.prompt == expected and record.status == "ok"
    assert record.template == {"name": "product-shot", "version": 1,
                               "fields": {"subject": "red sneaker", "background": "white", "style": "photorealistic"}}
    row = wisgate_nb.history().df.iloc[-1]
    assert row["template"] == "product-shot" and row["template_version"] == 1


def test_a_pinned_version_is_recorded(demo, product_shot):
    templates.save("product-shot", PRODUCT_SHOT + ", 85mm", background="white", style="photorealistic")
    wisgate_nb.generate(template="product-shot@1", subject="mug")
    wisgate_nb.generate(template="product-shot", subject="mug")
    frame = wisgate_nb.history().df
    assert list(frame["template_version"]) == [1, 2]
    comparison = wisgate_nb.history().compare(last=2)
    assert "template_version" in comparison.keys


def test_dry_run_shows_the_prompt_and_sends_and_records_nothing(demo, product_shot):
    before = len(wisgate_nb.history())
    dry = wisgate_nb.generate(template="product-shot", subject="red sneaker", dry_run=True)
    shown = str(dry)
    assert "red sneaker on a white background, photorealistic, soft studio lighting, centered" in shown
    assert "nothing sent" in shown and "/images/generations" in shown
    assert len(wisgate_nb.history()) == before


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"template": "prodct-shot", "subject": "x"}, "did you mean 'product-shot'"),
    ({"template": "product-shot"}, "needs a value for subject"),
    ({"template": "product-shot", "subject": "x", "subjekt": "y"}, "did you mean 'subject'"),
])
def test_template_errors_come_before_anything_is_sent(demo, product_shot, kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        wisgate_nb.generate(**kwargs)
    assert len(wisgate_nb.history()) == 0


def test_sweep_over_two_fields_is_a_grouped_comparison(demo):
    _studio()
    comparison = wisgate_nb.sweep(template="studio", subject=["teapot", "lamp"], lighting=["golden", "blue"],
                                  show_progress=False)
    records = comparison.records
    assert len(records) == 4 and len({r.group for r in records}) == 1 and records[0].group
    assert {(r.template["fields"]["subject"], r.template["fields"]["lighting"]) for r in records} == {
        ("teapot", "golden"), ("teapot", "blue"), ("lamp", "golden"), ("lamp", "blue")}
    assert all(r.status == "ok" and r.template["name"] == "studio" for r in records)
    assert set(comparison.keys) == {"subject", "lighting"}
    html = comparison._repr_html_()
    for value in ("teapot", "lamp", "golden", "blue"):
        assert value in html
    assert len(wisgate_nb.history().compare(group=records[0].group).records) == 4


def test_sweep_over_fields_named_like_image_options(demo, product_shot):
    comparison = wisgate_nb.sweep(template="product-shot", subject=["mug", "vase"], style=["ink", "clay"],
                                  show_progress=False)
    assert {r.template["fields"]["style"] for r in comparison.records} == {"ink", "clay"}


# -- the magics ---------------------------------------------------------------------------------

@pytest.fixture
def shell(demo):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    ip = InteractiveShell.instance()

    def run(cell: str) -> str:
        """Run a cell, re-raise its error, return everything it displayed (text and HTML)."""
        with capture_output() as captured:
            result = ip.run_cell(cell, store_history=False)
        if not result.success:
            raise result.error_in_exec or result.error_before_exec
        shown = [captured.stdout]
        for output in captured.outputs:
            shown += [output.data.get("text/html", ""), output.data.get("text/plain", "")]
        return "\n".join(shown)

    run("%load_ext wisgate_nb")
    try:
        yield run
    finally:
        run("%unload_ext wisgate_nb")


def test_magics_define_and_use_a_template(shell, store):
    shown = shell("%%wisgate_template product-shot background=white style=photorealistic\n" + PRODUCT_SHOT + "\n")
    assert templates.get("product-shot") == templates.Template(
        "product-shot", 1, PRODUCT_SHOT, {"background": "white", "style": "photorealistic"})
    assert "template product-shot v1 saved (fields: subject, background, style)" in shown
    assert "[[templates.product-shot]]" in store.read_text(encoding="utf-8")

    shell("%%wisgate_image --template product-shot subject=sneaker --demo --no-display\n"
          "on a wooden table\n")
    record = wisgate_nb.history().records[-1]
    assert record.status == "ok" and record.source == "magic"
    assert record.prompt == ("sneaker on a white background, photorealistic, soft studio lighting, centered, "
                             "on a wooden table")
    assert record.template == {"name": "product-shot", "version": 1,
                               "fields": {"subject": "sneaker", "background": "white", "style": "photorealistic"}}


def test_magic_template_with_a_field_called_name(shell):
    shell("%%wisgate_template greeting name=Ada\nA card saying hello to {name}, {text}\n")
    assert templates.get("greeting").defaults == {"name": "Ada"}


def test_magic_dry_run_prints_the_prompt_and_records_nothing(shell, product_shot):
    out = shell("%%wisgate_image --template product-shot subject=mug style=ink --demo --dry-run\nglazed\n")
    assert "mug on a white background, ink, soft studio lighting, centered, glazed" in out
    assert "nothing sent" in out
    assert len(wisgate_nb.history()) == 0


def test_magic_template_errors(shell, product_shot):
    with pytest.raises(ConfigurationError, match="did you mean 'product-shot'"):
        shell("%%wisgate_image --template product-shoot subject=x --demo\nextra\n")
    with pytest.raises(ConfigurationError, match=r"only plain field names"):
        shell("%%wisgate_template broken\n{subject.__class__}\n")
    assert len(wisgate_nb.history()) == 0


def test_magic_field_values_with_spaces(shell, product_shot):
    shell('%%wisgate_image --template product-shot subject="red sneaker" --demo --no-display\nx\n')
    assert wisgate_nb.history().records[-1].template["fields"]["subject"] == "red sneaker"


def test_magic_template_without_extra_detail(shell, product_shot):
    # IPython refuses a %% cell magic with an empty body, so one line uses the line form
    shell('%wisgate_image --template product-shot subject="red mug" --demo --no-display')
    assert wisgate_nb.history().records[-1].prompt.startswith("red mug on a white background")
