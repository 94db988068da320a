"""What leaves the notebook reads back exactly: CSV list columns as JSON, provenance that agrees with the
history, comparisons that name only real differences, transparent images on a checkerboard."""

from __future__ import annotations

import csv
import json
import re

import wisgate_nb
from wisgate_nb.output import html
from wisgate_nb.records import Record, now_iso


def test_csv_writes_list_and_dict_columns_as_json_text(demo_session, tmp_path):
    g = wisgate_nb.generate("a fox, \"quoted\"", size="256x256", n=2)
    wisgate_nb.history().tag(g.id, "keeper", "fox, red")
    path = wisgate_nb.history().to_csv(tmp_path / "h.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        row = next(csv.DictReader(fh))
    assert json.loads(row["paths"]) == [str(p) for p in g.paths]  # was "('..._0.png', '..._1.png')"
    assert json.loads(row["tags"]) == ["keeper", "fox, red"]
    assert json.loads(row["params"]) == {"size": "256x256", "n": 2}
    assert row["prompt"] == 'a fox, "quoted"'


def test_a_cancelled_request_and_its_re_run_do_not_differ_in_a_quality_left_to_the_server(demo_session):
    history = wisgate_nb.history()
    history.append(Record(id="999998-aaaaaa", session=history.session, started_at=now_iso(), prompt="a fox",
                          model="gpt-image-2", status="cancelled", size="256x256", params={"size": "256x256", "n": 1}))
    again = wisgate_nb.generate("a fox", size="256x256")
    assert again.record.quality == "medium"  # what the server chose, kept in the history
    comparison = history.compare(["999998-aaaaaa", again.id])
    assert comparison.keys == [] and "differ in: nothing" in comparison._repr_html_()
    asked = wisgate_nb.generate("a fox", size="256x256", quality="medium")
    assert history.compare([again.id, asked.id]).keys == ["quality"]  # asked for vs left to the server


def test_provenance_says_the_quality_the_history_says(demo_session):
    g = wisgate_nb.generate("a fox", size="256x256")  # quality left to the server
    assert g.record.quality == "medium"
    assert wisgate_nb.provenance(g.paths[0])["params"]["quality"] == "medium"  # it said None


def test_transparent_images_show_on_a_checkerboard(demo_session):
    g = wisgate_nb.generate("a fox sticker", size="256x256", background="transparent", output_format="png")
    imgs = re.findall(r"<img [^>]*>", g.html())
    assert imgs and all(html.CHECKER in i for i in imgs)
    table = re.findall(r"<img [^>]*>", wisgate_nb.history()._repr_html_())
    assert table and all(html.CHECKER in i for i in table)
    assert f"img.widget-image{{{html.CHECKER}}}" in html.panel_style_html("wisgate-reload-note-abcd")
