"""The mask painter, the compare slider and several input images, without a browser (test_browser_image_tools.py
has the browser side): strokes from Python, the mask the edits API gets, the inputs in order, and bad input."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

import wisgate_nb
from wisgate_nb import ConfigurationError
from wisgate_nb.http.images import load_image_input


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def png(size=(256, 192), color=(40, 90, 160), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(png())
    return path


def last_edit(server):
    (request,) = [r for r in server.emulator.requests if r.path.endswith("/images/edits")]
    return request


# -- the painter from Python ------------------------------------------------------------------------

def test_strokes_from_python_make_a_full_resolution_mask(photo):
    painter = wisgate_nb.mask_painter(photo, brush=10)
    assert painter.mask is None and painter.size == (256, 192) and painter.painted == 0.0
    painter.add_rect(10, 10, 50, 40).add_circle(200, 100, 20).add_stroke([(0, 150), (255, 150)])
    mask = painter.mask
    assert mask.mode == "RGBA" and mask.size == (256, 192)  # the image's size, not the preview's
    alpha = mask.getchannel("A")
    assert alpha.getpixel((30, 25)) == 0 and alpha.getpixel((200, 100)) == 0 and alpha.getpixel((128, 150)) == 0
    assert alpha.getpixel((128, 156)) == 255 and alpha.getpixel((100, 60)) == 255 and alpha.getpixel((200, 125)) == 255
    assert sum(alpha.histogram()[1:255]) == 0  # a hard mask: transparent or opaque, as the API reads it
    before = painter.painted
    painter.add_circle(200, 100, 20, erase=True)
    assert painter.mask.getchannel("A").getpixel((200, 100)) == 255 and painter.painted < before
    painter.undo()
    assert painter.mask.getchannel("A").getpixel((200, 100)) == 0 and painter.painted == before
    painter.clear()
    assert painter.mask is None and painter.strokes == []
    painter.strokes = [{"kind": "line", "points": [["a", 1]]}, {"kind": "spray", "points": [[1, 2]]}, {"points": 3}]
    assert painter.painted == 0.0  # malformed strokes (the trait comes from the browser too) are skipped


def test_the_browser_gets_a_preview_and_strokes_in_image_pixels():
    big = Image.new("RGB", (2048, 1024), "white")
    painter = wisgate_nb.mask_painter(big)
    preview = Image.open(io.BytesIO(__import__("base64").b64decode(painter.preview.partition(",")[2])))
    assert max(preview.size) <= 768 and (painter.width, painter.height) == (2048, 1024)
    painter.strokes = [{"kind": "line", "erase": False, "size": 40, "points": [[1000, 500], [1900, 500]]}]
    assert painter.mask.getchannel("A").getpixel((1899, 500)) == 0  # drawn at full resolution
    assert painter.mask.getchannel("A").getpixel((990, 500)) == 0 and painter.mask.getpixel((950, 500))[3] == 255


@pytest.mark.parametrize("bad, message", [
    (dict(brush=0), "brush is a diameter"), (dict(brush="big"), "brush is a diameter"),
])
def test_painter_options_are_checked(photo, bad, message):
    with pytest.raises(ConfigurationError, match=message):
        wisgate_nb.mask_painter(photo, **bad)


def test_painter_needs_an_image(tmp_path):
    with pytest.raises(ConfigurationError, match="cannot read image file"):
        wisgate_nb.mask_painter(tmp_path / "missing.png")
    with pytest.raises(ConfigurationError, match="must be a result, a PIL image"):
        wisgate_nb.mask_painter(3)
    painter = wisgate_nb.mask_painter(Image.new("RGB", (8, 8)))
    with pytest.raises(Exception, match="brush' or 'eraser"):
        painter.tool = "spray"


# -- the edit request ---------------------------------------------------------------------------------

def test_edit_sends_the_painted_mask_and_every_image_in_order(session, server, photo, tmp_path):
    second, third = png((64, 64), (200, 0, 0)), png((32, 48), (0, 200, 0))
    painter = wisgate_nb.mask_painter(photo).add_rect(20, 20, 120, 90)
    result = wisgate_nb.edit([photo, second, Image.open(io.BytesIO(third))], "add a window", mask=painter)

    sent = last_edit(server).form
    images = sent["image[]"]
    expected = [digest(photo.read_bytes()), digest(second), digest(load_image_input(Image.open(io.BytesIO(third)))[1])]
    assert [f["sha256"] for f in images] == expected  # every input image, in order
    mask_bytes = load_image_input(painter.mask, default_name="mask.png")[1]
    assert sent["mask"]["sha256"] == digest(mask_bytes)
    mask = Image.open(io.BytesIO(mask_bytes))
    assert mask.size == (256, 192) and mask.getchannel("A").getpixel((70, 50)) == 0  # painted, at the image's size
    assert mask.getchannel("A").getpixel((200, 150)) == 255

    record = result.record
    assert record.inputs == tuple(expected) and record.mask == digest(mask_bytes)
    folder = session.history.folder_of(record)
    kept = sorted(p.stem for p in (folder / "inputs").iterdir())
    assert kept == sorted({*expected, record.mask})  # the history keeps every input, by the digest it names
    reloaded = wisgate_nb.History.load(folder)
    assert reloaded[record.id].inputs == record.inputs and reloaded[record.id].mask == record.mask


def test_a_generation_can_be_painted_on_and_edited(session, server):
    room = wisgate_nb.generate("a room", size="1024x1024")
    painter = wisgate_nb.mask_painter(room).add_circle(512, 512, 100)
    edited = wisgate_nb.edit(room, "a round window", mask=painter)
    assert edited.record.endpoint == "edits" and last_edit(server).form["mask"]["size"] > 0


BAD = [
    ("empty-painter", lambda f: wisgate_nb.edit(f["photo"], "x", mask=wisgate_nb.mask_painter(f["photo"])),
     "nothing painted: paint the area to change first"),
    ("painter-all-erased", lambda f: wisgate_nb.edit(f["photo"], "x", mask=wisgate_nb.mask_painter(f["photo"])
                                                      .add_rect(0, 0, 50, 50).add_rect(0, 0, 60, 60, erase=True)),
     "nothing painted: paint the area to change first"),
    ("painter-of-another-size", lambda f: wisgate_nb.edit(f["photo"], "x", mask=f["small_painter"]),
     r"the mask is 64x64 but the image is 256x192"),
    ("painter-as-image", lambda f: wisgate_nb.edit(f["small_painter"], "x"), "is a mask painter: pass it as the mask"),
    ("17-images", lambda f: wisgate_nb.edit([f["photo"]] * 17, "x"), "at most 16 images; got 17"),
    ("too-big", lambda f: wisgate_nb.edit([f["photo"], f["huge"]], "x"), r"huge\.png is 51\.0 MB: .* at most 50 MB"),
    ("unreadable", lambda f: wisgate_nb.edit([f["photo"], b"not an image"], "x"), "cannot be decoded"),
    ("mask-without-alpha", lambda f: wisgate_nb.edit(f["photo"], "x", mask=png()), "the mask has no alpha channel"),
    ("mask-over-4-mb", lambda f: wisgate_nb.edit(f["noise"], "x", mask=f["noise"]), r"the mask is 4\.\d MB"),
]


@pytest.mark.parametrize("case, call, message", BAD, ids=[c[0] for c in BAD])
def test_bad_edit_input_is_refused_before_anything_is_sent(session, server, tmp_path, photo, case, call, message):
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as f:  # sparse: its size is checked before it is read
        f.write(png())
        f.truncate(51 * 1024 * 1024)
    noise = tmp_path / "noise.png"
    Image.frombytes("RGBA", (1100, 1000), __import__("os").urandom(1100 * 1000 * 4)).save(noise)
    small = wisgate_nb.mask_painter(Image.new("RGB", (64, 64))).add_rect(0, 0, 10, 10)
    with pytest.raises(ConfigurationError, match=message):
        call({"photo": photo, "huge": huge, "noise": noise, "small_painter": small})
    assert server.emulator.requests == [] and session.history.records == []


# -- the magic ----------------------------------------------------------------------------------------

def test_magic_takes_several_edit_images_and_a_painter_as_mask(shell, server, photo):
    shell.ns["second"] = Image.new("RGB", (100, 100), "red")
    shell.ns["brush"] = wisgate_nb.mask_painter(photo).add_rect(0, 0, 100, 100)
    shell.run(f"%%wisgate_image --edit {photo} --edit second --mask brush --out framed --no-display\n"
              "put a frame around it")
    sent = last_edit(server).form
    assert [f["sha256"] for f in sent["image[]"]] == list(shell.ns["framed"].record.inputs)
    assert len(sent["image[]"]) == 2 and sent["mask"]["sha256"] == shell.ns["framed"].record.mask


def test_magic_mask_name_that_is_nothing_is_a_clear_error(shell, server, photo):
    with pytest.raises(ConfigurationError, match="no variable or file named 'brush'"):
        shell.run(f"%%wisgate_image --edit {photo} --mask brush\nput a frame around it")
    assert server.emulator.requests == []


# -- the compare slider -------------------------------------------------------------------------------

def test_compare_slider_takes_results_images_and_paths(demo_session, photo):
    a = wisgate_nb.generate("a red fox", size="1024x1024")
    slider = wisgate_nb.compare_slider(a, photo)
    assert slider.label_a == "A: a red fox" and slider.label_b == "B: photo.png" and slider.position == 50
    assert slider.a.startswith("data:image/jpeg;base64,") and slider.width_px == 600  # 600 px tall at most
    slider.position = 140
    assert slider.position == 100  # kept inside the image
    with pytest.raises(ConfigurationError, match="labels are two texts"):
        wisgate_nb.compare_slider(a, photo, labels="ab")
    with pytest.raises(ConfigurationError, match="cannot read image file"):
        wisgate_nb.compare_slider(a, "no/such.png")


@pytest.mark.parametrize("size, shown", [((1024, 1536), (400, 600)), ((1536, 1024), (768, 512)), ((300, 200), (300, 200))])
def test_a_large_slider_fits_a_cell_unscrolled(size, shown):
    from PIL import Image

    slider = wisgate_nb.compare_slider(Image.new("RGB", size), Image.new("RGB", size))
    # marimo's output box is 610 px tall: a portrait slider was 768 px, its bottom cut off (scrolled)
    assert (slider.width_px, round(slider.width_px * size[1] / size[0])) == shown


def test_history_compare_offers_the_slider_for_two_results(demo_session):
    small = wisgate_nb.generate("a lighthouse", size="512x512")
    large = wisgate_nb.generate("a lighthouse", size="1024x1024")
    comparison = wisgate_nb.history().compare([small.id, large.id])
    assert ".slider()" in comparison._repr_html_()
    slider = comparison.slider()
    assert "size=512x512" in slider.label_a and "size=1024x1024" in slider.label_b
    third = wisgate_nb.generate("a lighthouse", size="1536x1024")
    three = wisgate_nb.history().compare([small.id, large.id, third.id])
    assert ".slider()" not in three._repr_html_()
    with pytest.raises(ConfigurationError, match="a slider lays two results"):
        three.slider()


# -- the panel's Edit… ---------------------------------------------------------------------------------

@pytest.fixture
def panel(demo_session):
    from wisgate_nb.widgets import Panel

    p = Panel(demo_session)
    yield p
    p.close()


def panel_result(p, prompt: str):
    p._prompt.value = prompt
    p._form["size"].value = "1024x1024"
    p._generate.click()
    p.wait(20)
    assert p.slots[-1].state == "ok", p._status.value
    return p.slots[-1]


def upload(data: bytes, name: str) -> dict:
    import datetime

    return {"name": name, "type": "image/png", "size": len(data), "content": memoryview(data),
            "last_modified": datetime.datetime.now(datetime.timezone.utc)}


def painting_edit_box(panel):
    """The Edit… box of a fresh result, asked to "add a window", its mask painter open."""
    panel_result(panel, "a plain room")._edit_buttons[0].click()
    box = panel._edit_box
    box._prompt.value = "add a window"
    box._paint_button.value = True
    return box


def test_panel_edit_paints_a_mask_and_adds_reference_images(panel, demo_session):
    box = painting_edit_box(panel)
    painter = box.painter
    assert painter is not None and painter.size == (1024, 1024) and box._painter_area.children == (painter,)
    box._send_button.click()  # nothing painted yet
    assert "paint the area to change first" in panel._status.value and len(panel.slots) == 1

    painter.add_rect(100, 100, 400, 300)
    box._references.value = (upload(png((64, 64), (250, 0, 0)), "ref1.png"), upload(png((32, 32)), "ref2.png"))
    box._send_button.click()
    assert box.layout.display == "none" and box.painter is None and box._references.value == ()
    edited = panel.slots[-1]
    panel.wait(20)
    assert edited.state == "ok", edited.summary
    record = demo_session.history[edited.record.id]
    assert record.endpoint == "edits" and len(record.inputs) == 3 and record.mask
    assert record.inputs[1:] == (digest(png((64, 64), (250, 0, 0))), digest(png((32, 32))))
    assert "with 2 reference image(s)" in edited._header.value


def test_panel_edit_refuses_two_masks(panel, tmp_path):
    box = painting_edit_box(panel)
    box.painter.add_circle(500, 500, 50)
    box._mask_path.value = str(tmp_path / "mask.png")
    box._send_button.click()
    assert "two masks" in panel._status.value and len(panel.slots) == 1
