"""What a result looks like as static HTML: thumbnails within their byte budget, every image of a result with
the caption under all of them, comparisons in the order given and laid out by what varies, theme colours.

How the colours read (contrast) and where elements land is measured in real Chromium
(tests/test_browser_look.py); these tests check the HTML the browser gets.
"""

from __future__ import annotations

import base64
import io
import os
import re

import nbformat
import pytest
from PIL import Image

import wisgate_nb
from wisgate_nb.core.doctor import Report
from wisgate_nb.output import html
from wisgate_nb.output.thumbnails import JPEG_QUALITY, MAX_BYTES, thumbnail_bytes, thumbnail_mime
from wisgate_nb.records import Generation

NOTEBOOK_BUDGET = 100_000  # what one image may cost in a saved notebook (the README's promise)


def _png(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def _noise(size, mode="RGB") -> Image.Image:
    im = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    if mode == "RGBA":
        im = im.convert("RGBA")
        im.putalpha(Image.frombytes("L", size, os.urandom(size[0] * size[1])))
    return im


def _notebook_cost(output_html: str, metadata: dict | None = None) -> int:
    """Bytes a notebook grows by when it holds this HTML as one display output."""
    def size(outputs):
        cell = nbformat.v4.new_code_cell("%%wisgate_image\nx")
        cell.outputs = outputs
        return len(nbformat.writes(nbformat.v4.new_notebook(cells=[cell])).encode())

    output = nbformat.v4.new_output("display_data", data={"text/html": output_html}, metadata=metadata or {})
    return size([output]) - size([])


@pytest.mark.parametrize(("size", "mode"), [((1024, 1024), "RGB"), ((1536, 1024), "RGB"), ((512, 512), "RGB"),
                                            ((4096, 4096), "RGB"), ((1024, 1024), "RGBA")])
def test_pure_noise_thumbnails_stay_within_the_byte_budget(size, mode):
    picture = _noise(size, mode)
    data, mime = thumbnail_bytes(_png(picture) if size[0] < 4096 else picture)  # bytes or PIL, both
    assert len(data) <= MAX_BYTES
    assert mime == ("image/webp" if mode == "RGBA" else "image/jpeg")
    assert max(Image.open(io.BytesIO(data)).size) >= 256  # smaller, not a postage stamp
    assert len(html.Tile(f"data:{mime};base64,{base64.b64encode(data).decode()}").src) < NOTEBOOK_BUDGET


def test_an_ordinary_picture_keeps_quality_80():
    picture = Image.radial_gradient("L").resize((1024, 1024)).convert("RGB")
    data, _ = thumbnail_bytes(_png(picture))
    expected = io.BytesIO()
    small = picture.copy()
    small.thumbnail((512, 512), Image.Resampling.BILINEAR, reducing_gap=1.0)
    small.save(expected, "JPEG", quality=JPEG_QUALITY)  # one plain encode: it fits
    assert data == expected.getvalue()


def test_a_pure_noise_result_costs_under_100_kb_in_a_saved_notebook(demo_session):
    g = wisgate_nb.generate("noise", size="1024x1024")
    noisy = _png(_noise((1024, 1024)))
    record = g.record
    shown = Generation(record, g.paths, (), (noisy,))  # no thumbnail file: made from the image, in budget
    assert _notebook_cost(shown.html(), {"wisgate_nb": shown.metadata()}) < NOTEBOOK_BUDGET


@pytest.mark.parametrize(("n", "px"), [(1, 512), (2, 360), (3, 256), (4, 360)])
def test_a_result_is_one_figure_with_its_images_then_its_caption(demo_session, n, px):
    g = wisgate_nb.generate("a row of lighthouses", size="1536x1024", n=n)
    page = g.html()
    assert page.count("<figure") == 1 and page.count("<img") == n and page.count("<figcaption") == 1
    assert page.index("<figcaption") > page.rindex("<img")  # the caption comes after every image
    assert page.count(f"width:{px}px;height:auto") == n  # a landscape thumbnail fills the width it is shown at
    columns = html.columns_for(n)
    assert f"max-width:{columns * px + (columns - 1) * html.GAP}px" in page  # rows of 1, 2, 3 or 2 x 2


def test_outputs_take_their_colours_from_the_theme():
    result = html.Result((html.Tile("data:image/png;base64,AA"),), ("a fox", "1.0 s"), "a label")
    pieces = [html.grid_html([result], title="t", note="n"), html.error_card_html("Error", "x"),
              html.error_card_html("Cancelled", "x", tone="warn"), html.status_html("s"),
              html.table_html(("id", "status"), [(("1", "cancelled"), ())], tones=["warn"]),
              html.text_html(("a", "muted"), ("b", "error"), ("c", "ok"), ("d", "warn"), ("e", "faint")),
              html.key_value_html([("key", "value")])]
    for piece in pieces:
        colours = re.findall(r"(?<![-\w])(?:color|background|border)[\w-]*:([^;\"]+)", piece)
        for colour in colours:  # a fixed grey or white would be unreadable in one theme or the other
            assert not re.search(r"(?<!, )#[0-9a-fA-F]{3,6}\b|\bwhite\b|\bblack\b", colour), (colour, piece)
    assert "var(--jp-error-color1, #d32f2f)" in html.COLOURS["error"]
    assert "var(--jp-content-font-color1, currentColor)" in html.COLOURS["muted"]
    assert html.STATUS_TONES["cancelled"] == "warn"


def test_tables_are_left_aligned_where_jupyterlab_right_aligns_them():
    doctor = Report([("key", "from WISGATE_API_KEY (sk-…ab)"), ("history", "wisgate_runs/x")])._repr_html_()
    cells = re.findall(r"<t[hd] style=\"([^\"]*)\"", doctor)
    assert cells and all("text-align:left" in c for c in cells)


def test_text_keeps_its_line_breaks():
    shown = html.text_html(("No API key is set. Three ways:\n  1. one\n  2. two", "error"))
    assert shown.count("<br>") == 2


# -- comparisons ---------------------------------------------------------------------------------------

def test_compare_shows_every_image_of_every_result_with_no_placeholders(demo_session):
    one = wisgate_nb.generate("a fox", size="256x256")
    two = wisgate_nb.generate("a cat", size="256x256", n=2)
    three = wisgate_nb.generate("a dog", size="512x512", n=3)
    comparison = wisgate_nb.history().compare(last=3)
    assert comparison.keys == ["size", "n"] and not comparison.is_grid()
    columns, rows = comparison.layout()
    assert [r.id for r in rows[0][1]] == [one.id, two.id, three.id]
    assert columns[0] == "a fox · size=256x256, n=1"
    page = comparison._repr_html_()
    assert page.count("<img") == 6 and page.count("<figure") == 3
    assert "<table" not in page and "…</div>" not in page and ">—<" not in page
    assert page.index("a fox") < page.index("a cat") < page.index("a dog")


def test_compare_keeps_the_order_given_and_a_full_sweep_is_a_grid(demo_session):
    grid = wisgate_nb.sweep(prompts=["zebra", "apple"], size=["256x256", "512x512"], show_progress=False)
    assert grid.is_grid()
    columns, rows = grid.layout()
    assert columns == ["zebra", "apple"] and [label for label, _ in rows] == ["size=256x256", "size=512x512"]
    page = grid._repr_html_()
    assert page.count("<img") == 4 and "<table" in page and page.index(">zebra<") < page.index(">apple<")
    ids = [r.id for r in grid.records]
    reverse = wisgate_nb.history().compare(list(reversed(ids)))
    assert [r.id for r in reverse.records] == list(reversed(ids))
    assert reverse.layout()[0] == ["apple", "zebra"]


def test_repeated_runs_compare_side_by_side(demo_session):
    wisgate_nb.generate("a fox", size="256x256")
    wisgate_nb.generate("a fox", size="256x256")
    comparison = wisgate_nb.history().compare(last=2)
    assert not comparison.keys and not comparison.prompts_vary
    page = comparison._repr_html_()
    assert page.count("<figure") == 2 and "a fox" in page and "repeated runs" in page


def test_failed_and_cancelled_results_keep_their_place_and_tone(demo_session):
    from wisgate_nb.records import Record, now_iso

    history = wisgate_nb.history()
    ok = wisgate_nb.generate("first", size="256x256")
    history.append(Record(id="999998-aaaaaa", session=history.session, started_at=now_iso(), prompt="second",
                          model="gpt-image-2", status="cancelled", size="256x256"))
    history.append(Record(id="999999-bbbbbb", session=history.session, started_at=now_iso(), prompt="third",
                          model="gpt-image-2", status="error", error="HTTP 500: broken", size="256x256"))
    page = history.compare([ok.id, "999998-aaaaaa", "999999-bbbbbb"])._repr_html_()
    assert page.index("first") < page.index("cancelled") < page.index("HTTP 500: broken")
    assert "--jp-warn-color0" in page  # the cancelled card is amber, like cancelled everywhere
    table = history._repr_html_()
    for tone, status in (("warn", "cancelled"), ("error", "error")):  # the status cell takes the tone
        assert re.search(f'color:{re.escape(html.COLOURS[tone])}"><div[^>]*>{status}', table), status


def test_a_thumbnail_is_encoded_as_the_type_its_file_was_named_for():
    """The type is chosen on the full image (it names the .thumb file); reducing a palette image whose
    transparent colour is unused makes it opaque, which alone would choose JPEG for a .webp name."""
    image = Image.new("P", (256, 256), 1)
    image.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    out = io.BytesIO()
    image.save(out, "PNG", transparency=0)
    mime = thumbnail_mime(Image.open(io.BytesIO(out.getvalue())))
    data, got = thumbnail_bytes(out.getvalue(), 64, mime=mime)
    assert mime == got == "image/webp" and Image.open(io.BytesIO(data)).format == "WEBP"


# -- alt text and header cells (axe-core in real Chromium: tests/test_browser_access.py) ---------------------------

def _alts(page: str) -> list[str]:
    import html as std_html

    return [std_html.unescape(a) for a in re.findall(r'<img [^>]*alt="([^"]*)"', page)]


def test_alt_text_names_the_prompt_and_each_image_number(demo_session):
    four = wisgate_nb.generate("a fox in the snow", size="256x256", n=4)
    assert _alts(four.html()) == [f"a fox in the snow — image {i} of 4" for i in range(1, 5)]
    one = wisgate_nb.generate("a cat", size="256x256")
    assert _alts(one.html()) == ["a cat"]
    table = wisgate_nb.history()._repr_html_()  # the history table's thumbnails too
    assert "a fox in the snow — image 3 of 4" in _alts(table) and "a cat" in _alts(table)


def test_alt_text_in_a_comparison_and_a_sweep_names_the_settings_that_differ(demo_session):
    a = wisgate_nb.generate("a fox", size="256x256", quality="low")
    b = wisgate_nb.generate("a fox", size="256x256", quality="high", n=2)
    alts = _alts(wisgate_nb.history().compare([a.id, b.id])._repr_html_())
    assert alts == ["a fox (quality=low, n=1)", "a fox — image 1 of 2 (quality=high, n=2)",
                    "a fox — image 2 of 2 (quality=high, n=2)"]
    grid = wisgate_nb.sweep(prompts=["zebra", "apple"], size=["256x256", "512x512"], show_progress=False)
    page = grid._repr_html_()
    assert sorted(_alts(page)) == sorted(f"{p} (size={s})" for p in ("zebra", "apple") for s in ("256x256", "512x512"))
    assert "<th></th>" not in page and not re.search(r"<th [^>]*></th>", page)  # every header cell says something
    assert re.search(r'<th scope="col"[^>]*>size \(rows\) · prompt \(columns\)</th>', page)
    assert page.count('<th scope="row"') == 2


def test_every_history_table_header_cell_has_a_name(demo_session):
    wisgate_nb.generate("a fox", size="256x256")
    page = wisgate_nb.history()._repr_html_()
    assert not re.search(r"<th [^>]*></th>", page) and ">images</th>" in page
