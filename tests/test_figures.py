"""grader.figures: PNG encoding, figure builders, and defensive HTML rendering of untrusted figure dicts."""

from __future__ import annotations

import base64
import json
import math
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from markupsafe import Markup

from grader import figures as F

EVIL = '<script>alert("x")</script>&"\''
NOTE = '<p class="muted">figure could not be shown:'


def parse_png(data: bytes) -> tuple[dict[str, int], np.ndarray]:
    """Chunks checked one by one (lengths, CRCs); returns the IHDR fields and the unfiltered pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos: pos + 4])
        kind, body = data[pos + 4: pos + 8], data[pos + 8: pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length: pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data)
    kinds = [k for k, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height, depth, colour, compression, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour, compression, filt, interlace) == (8, 0, 0, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(raw) == (1 + width) * height
    rows = np.frombuffer(raw, np.uint8).reshape(height, 1 + width)
    assert not rows[:, 0].any()  # filter type 0 on every scanline
    return {"width": width, "height": height}, rows[:, 1:]


def grid_pixels(figure: dict[str, Any]) -> np.ndarray:
    header, pixels = parse_png(base64.b64decode(figure["png_base64"]))
    assert (header["width"], header["height"]) == (figure["width"], figure["height"])
    return pixels


class TagBalance(HTMLParser):
    VOID = {"img", "br", "meta", "line", "circle", "polyline", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, tag


def check_html(html: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(html)
    parser.close()
    assert parser.stack == []
    assert "<script" not in html.lower()
    return parser


# --- PNG -------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (17, 4), (64, 64)])
def test_png_roundtrip(shape: tuple[int, int]) -> None:
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    header, pixels = parse_png(F.encode_png_gray(image))
    assert (header["height"], header["width"]) == shape
    np.testing.assert_array_equal(pixels, image)


def test_png_opens_with_pillow() -> None:
    pil = pytest.importorskip("PIL.Image")
    import io
    image = np.arange(60, dtype=np.uint8).reshape(6, 10) * 4
    with pil.open(io.BytesIO(F.encode_png_gray(image))) as opened:
        assert opened.mode == "L" and opened.size == (10, 6)
        np.testing.assert_array_equal(np.asarray(opened), image)


def test_png_from_non_contiguous_view() -> None:
    image = np.arange(100, dtype=np.uint8).reshape(10, 10)[::2, 1::3]
    np.testing.assert_array_equal(parse_png(F.encode_png_gray(image))[1], image)


@pytest.mark.parametrize("bad", [np.zeros((2, 2, 2), np.uint8), np.zeros((3, 3), np.float32),
                                 np.zeros((0, 4), np.uint8), np.zeros(5, np.uint8)])
def test_png_rejects_bad_arrays(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        F.encode_png_gray(bad)


# --- image grid ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale,gap", [(1, 0), (1, 2), (2, 2), (3, 1), (4, 5)])
@pytest.mark.parametrize("counts", [(1,), (3, 3), (2, 4, 1)])
def test_grid_geometry(scale: int, gap: int, counts: tuple[int, ...]) -> None:
    h, w = 4, 5
    rows = [np.full((k, h, w), (r + 1) / 4) for r, k in enumerate(counts)]
    figure = F.image_grid(rows, [f"r{i}" for i in range(len(counts))], "t", scale=scale, gap=gap)
    cols, n = max(counts), len(counts)
    assert figure["width"] == cols * w * scale + (cols - 1) * gap
    assert figure["height"] == n * h * scale + (n - 1) * gap
    pixels = grid_pixels(figure)
    for r, k in enumerate(counts):
        for c in range(cols):
            top, left = r * (h * scale + gap), c * (w * scale + gap)
            cell = pixels[top: top + h * scale, left: left + w * scale]
            expected = round((r + 1) / 4 * 255) if c < k else F.GREY
            assert (cell == expected).all(), (r, c)
            if c + 1 < cols and gap:
                assert (pixels[top: top + h * scale, left + w * scale: left + w * scale + gap] == F.GREY).all()
        if r + 1 < n and gap:
            assert (pixels[top + h * scale: top + h * scale + gap] == F.GREY).all()


def test_grid_clips_and_zeroes_nan() -> None:
    row = np.array([[[-1.0, 0.5, 2.0, np.nan, np.inf, -np.inf, 1.0, 0.0]]])
    figure = F.image_grid([row], ["x"], "t", scale=1, gap=0)
    np.testing.assert_array_equal(grid_pixels(figure), [[0, 128, 255, 0, 255, 0, 255, 0]])


def test_grid_uint8_and_single_image_rows() -> None:
    figure = F.image_grid([np.array([[0, 7, 255]], np.uint8), np.array([[[1.0, 0.0, 1.0]]])], ["u8"], "t", 1, 1)
    pixels = grid_pixels(figure)
    np.testing.assert_array_equal(pixels, [[0, 7, 255], [F.GREY] * 3, [255, 0, 255]])
    assert figure["row_labels"] == ["u8", "row 2"]


def test_grid_mixed_sizes_and_caps() -> None:
    rows = [np.ones((20, 2, 3)) for _ in range(10)] + [np.ones((1, 4, 1))]
    figure = F.image_grid(rows, [str(i) for i in range(12)], "caps", scale=1, gap=0)
    assert (figure["width"], figure["height"]) == (16 * 3, 8 * 2)
    assert figure["row_labels"] == [str(i) for i in range(8)]
    small = F.image_grid([np.ones((1, 2, 2)), np.zeros((1, 3, 1))], ["a", "b"], "t", scale=1, gap=0)
    np.testing.assert_array_equal(grid_pixels(small), [[255, 255], [255, 255], [F.GREY] * 2,
                                                       [0, F.GREY], [0, F.GREY], [0, F.GREY]])


@pytest.mark.parametrize("rows,kwargs", [([], {}), ([np.zeros((0, 3, 3))], {}), ([np.zeros((2, 2, 2, 2))], {}),
                                         ([np.zeros((1, 1000, 2))], {}), ([np.zeros((1, 2, 2))], {"scale": 0}),
                                         ([np.zeros((1, 2, 2))], {"gap": -1})])
def test_grid_rejects(rows: list[np.ndarray], kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        F.image_grid(rows, [], "t", **kwargs)


def test_grid_renders_img_with_labels() -> None:
    figure = json.loads(json.dumps(F.image_grid([np.zeros((2, 3, 3))], [EVIL], EVIL)))
    html = str(F.render_figure(figure))
    check_html(html)
    assert f'src="data:image/png;base64,{figure["png_base64"]}"' in html
    assert "&lt;script&gt;" in html and "<figcaption>" in html and NOTE not in html


# --- line charts -----------------------------------------------------------------------------------------------------

def test_line_chart_data_normalised() -> None:
    figure = F.line_chart("t", [("a", [1, np.float32(2.5), float("nan"), float("inf"), None, "3", True, 10**400])])
    assert figure["series"] == [{"name": "a", "values": [1.0, 2.5, None, None, None, None, None, None]}]
    json.dumps(figure, allow_nan=False)
    big = F.line_chart("t", [(str(i), list(range(5000))) for i in range(30)])
    assert len(big["series"]) == 10 and all(len(s["values"]) == 1000 for s in big["series"])
    assert (big["x_label"], big["y_label"]) == ("epoch", "loss")


@pytest.mark.parametrize("values", [[], [None, None], [float("nan"), float("inf")], [3.0], [2.0, 2.0, 2.0], [0.0, 0.0],
                                    [-5.0, -1.0, -3.0], [1e308, -1e308], [1e-320, 2e-320], [1.0, None, 2.0, 3.0],
                                    list(range(1000))])
def test_line_chart_renders_edge_cases(values: list[float | None]) -> None:
    html = str(F.render_figure(F.line_chart("loss", [("train", values), ("val", values[:1])])))
    assert NOTE not in html and "<svg" in html and not re.search(r"\b(nan|inf)\b", html, re.I)
    check_html(html)
    ET.fromstring(re.search(r"<svg.*</svg>", html, re.S).group(0))  # the SVG is well-formed XML
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        assert "no finite values" in html
    else:
        ticks = re.findall(r'text-anchor="end">([^<]*)<', html)
        assert 4 <= len(ticks) <= 7 and len(set(ticks)) == len(ticks)


def test_line_chart_points_lines_and_ticks() -> None:
    html = str(F.render_figure(F.line_chart("t", [("a", [1.0, None, 2.0, 3.0]), ("b", [0.5])])))
    assert html.count("<polyline") == 1  # the None breaks a's line: [1] alone, [2, 3] joined; b is one point
    assert html.count("<circle") == 4
    assert F.PALETTE[0] in html and F.PALETTE[1] in html
    assert [int(t) for t in re.findall(r'text-anchor="middle">(\d+)<', html)] == [1, 2, 3, 4]
    ticks = re.findall(r'text-anchor="end">([^<]*)<', html)
    assert ticks == ["0", "1", "2", "3"]  # 0.5..3 on a nice step of 1


@pytest.mark.parametrize("values,expected", [
    ([0.5, 3.0], ["0", "1", "2", "3"]), ([1000.0, 1010.0], ["1000", "1002.5", "1005", "1007.5", "1010"]),
    ([0.0, 5000.0], ["0", "2000", "4000", "6000"]), ([0.1, 0.3], ["0.1", "0.15", "0.2", "0.25", "0.3"]),
    ([2.0, 2.0], ["1.8", "1.9", "2", "2.1", "2.2"]), ([-3.0, -1.0], ["-3", "-2.5", "-2", "-1.5", "-1"]),
    ([0.0, 0.0], ["-1", "-0.5", "0", "0.5", "1"]), ([0.0, 2.5e7], ["0", "1e+07", "2e+07", "3e+07"]),
])
def test_line_chart_y_tick_labels(values: list[float], expected: list[str]) -> None:
    html = str(F.render_figure(F.line_chart("t", [("a", values)])))
    assert re.findall(r'text-anchor="end">([^<]*)<', html) == expected


def test_line_chart_escapes() -> None:
    figure = F.line_chart(EVIL, [(EVIL, [1.0, 2.0])], x_label=EVIL, y_label=EVIL)
    html = str(F.render_figure(figure))
    check_html(html)
    assert html.count("&lt;script&gt;") >= 5


# --- tables and confusion matrices -----------------------------------------------------------------------------------

def test_table_cells() -> None:
    figure = F.table("t", ["a", "b"], [[np.int64(3), 1 / 3, float("nan")], [None], ["x", True, 10**30]])
    assert figure["columns"] == ["a", "b", ""]
    assert figure["rows"] == [[3, 1 / 3, None], [None, None, None], ["x", "True", 1e30]]
    json.dumps(figure, allow_nan=False)
    html = str(F.render_figure(figure))
    check_html(html)
    assert 'class="figure-table"' in html and "0.3333" in html and "1e+30" in html and html.count("—") == 4
    assert len(F.table("t", ["a"], [[i] for i in range(500)])["rows"]) == 100


def test_table_escapes() -> None:
    html = str(F.render_figure(F.table(EVIL, [EVIL], [[EVIL]])))
    check_html(html)
    assert html.count("&lt;script&gt;") == 3


def test_confusion_matrix_cells_and_caption() -> None:
    figure = F.confusion_matrix("cm", ["cat", "dog"], [[3, 1], [0, 0]])
    html = str(F.render_figure(json.loads(json.dumps(figure))))
    check_html(html)
    assert "rows: true class, columns: predicted" in html and 'class="cm"' in html
    cells = re.findall(r'<td style="background: rgba\(31, 119, 180, ([0-9.]+)\); color: [^"]+">([^<]*)</td>', html)
    assert cells == [("0.750", "3"), ("0.250", "1"), ("0.000", "0"), ("0.000", "0")]
    assert re.findall(r"<th[^>]*>([^<]*)</th>", html) == ["true \\ predicted", "cat", "dog", "cat", "dog"]


def test_confusion_matrix_normalises_untrusted_counts() -> None:
    figure = F.confusion_matrix(EVIL, [EVIL], [[-1, float("nan")], [2.0, 3.5, 7], [1]])
    assert figure["labels"] == [EVIL[:300], "class 1", "class 2"]
    assert figure["matrix"] == [[None, None, 0], [2, None, 7], [1, 0, 0]]
    html = str(F.render_figure(figure))
    check_html(html)
    assert NOTE not in html and html.count("—") == 3


# --- malformed input -------------------------------------------------------------------------------------------------

GOOD_GRID = F.image_grid([np.zeros((1, 2, 2))], ["a"], "t")
NOT_PNG = base64.b64encode(b"GIF89a" + bytes(40)).decode()


@pytest.mark.parametrize("figure", [
    None, 3, "line_chart", [], {}, {"type": "pie"}, {"type": ["line_chart"]},
    {"type": "line_chart"}, {"type": "line_chart", "title": "t", "x_label": "x", "y_label": "y", "series": "abc"},
    {"type": "line_chart", "title": 5, "x_label": "x", "y_label": "y", "series": []},
    {"type": "line_chart", "title": "t", "x_label": "x", "y_label": "y", "series": [["a", [1]]]},
    {"type": "line_chart", "title": "t", "x_label": "x", "y_label": "y", "series": [{"name": "a", "values": ["1"]}]},
    {"type": "line_chart", "title": "t", "x_label": "x", "y_label": "y", "series": [{"name": "a", "values": [True]}]},
    {"type": "line_chart", "title": "t", "x_label": "x", "y_label": "y",
     "series": [{"name": "a", "values": [1.0] * 100_000}]},
    {"type": "line_chart", "title": "t", "x_label": "x", "y_label": "y",
     "series": [{"name": str(i), "values": []} for i in range(11)]},
    {**GOOD_GRID, "png_base64": "<script>alert(1)</script>"}, {**GOOD_GRID, "png_base64": "abc"},
    {**GOOD_GRID, "png_base64": NOT_PNG}, {**GOOD_GRID, "png_base64": 12}, {**GOOD_GRID, "width": "10"},
    {**GOOD_GRID, "width": 999}, {**GOOD_GRID, "height": True}, {**GOOD_GRID, "row_labels": [1, 2]},
    {**GOOD_GRID, "row_labels": ["x"] * 9}, {**GOOD_GRID, "png_base64": "A" * 9_000_000},
    {"type": "table", "title": "t", "columns": ["a"], "rows": [[{"x": 1}]]},
    {"type": "table", "title": "t", "columns": ["a"], "rows": "rows"},
    {"type": "table", "title": "t", "columns": ["a"], "rows": [[1]] * 101},
    {"type": "table", "title": "t", "columns": "a", "rows": []},
    {"type": "confusion_matrix", "title": "t", "labels": ["a", "b"], "matrix": [[1, 2]]},
    {"type": "confusion_matrix", "title": "t", "labels": ["a"], "matrix": [[-1]]},
    {"type": "confusion_matrix", "title": "t", "labels": ["a"], "matrix": [[1.5]]},
    {"type": "confusion_matrix", "title": "t", "labels": ["a"], "matrix": [["1"]]},
    {"type": "confusion_matrix", "title": "t", "labels": [str(i) for i in range(60)], "matrix": []},
])
def test_malformed_figures_render_as_note(figure: Any) -> None:
    html = F.render_figure(figure)
    assert isinstance(html, Markup)
    assert html.startswith(NOTE) and html.endswith("</p>") and len(html) < 200
    assert "<script" not in html


def test_note_escapes_its_reason() -> None:
    html = str(F.render_figure({"type": "table", "title": EVIL, "columns": [EVIL], "rows": [[object()]]}))
    assert html.startswith(NOTE) and "<script" not in html


def test_render_figures_joins_and_ignores_non_lists() -> None:
    assert F.render_figures(None) == "" and F.render_figures({"type": "table"}) == ""
    both = str(F.render_figures([F.table("a", ["x"], [[1]]), "junk", F.confusion_matrix("b", ["y"], [[2]])]))
    assert both.count("<figure") == 2 and both.count(NOTE) == 1


def test_full_page_is_well_formed(tmp_path: Path) -> None:
    figures = [F.image_grid([np.random.default_rng(1).random((4, 8, 8))] * 3, ["inputs", "recon", EVIL], EVIL),
               F.line_chart(EVIL, [("train", [3.0, 2.0, 1.5]), (EVIL, [3.5, float("nan"), 2.5])]),
               F.table(EVIL, ["metric", "value"], [["acc", 0.91234], [EVIL, None]]),
               F.confusion_matrix(EVIL, ["0", "1", EVIL], [[5, 1, 0], [2, 7, 1], [0, 0, 9]])]
    stored = tmp_path / "result.json"
    stored.write_text(json.dumps({"figures": figures}, allow_nan=False))
    body = F.render_figures(json.loads(stored.read_text())["figures"])
    page = tmp_path / "page.html"
    page.write_text(f"<!doctype html><html><head><style>{F.FIGURE_CSS}</style></head><body>{body}</body></html>")
    html = page.read_text()
    tags = check_html(html).tags
    assert NOTE not in html and tags.count("figure") == 4 and tags.count("svg") == 1 and tags.count("img") == 1
    for rule in (".figure", ".figure-table", ".cm"):
        assert rule in F.FIGURE_CSS


JUNK = [None, True, 0, -1, 2**70, 1.5, float("nan"), float("inf"), "", "<script>", [], [None], [[1]], [["a"]], {},
        {"a": 1}, [1, "a"], [[-5, 2**80]], [{"name": "a", "values": [1e308, -1e308]}], [{"name": 3, "values": []}]]


@pytest.mark.parametrize("seed", range(4))
def test_mutated_figures_never_raise(seed: int) -> None:
    import random
    rng = random.Random(seed)
    goods = [GOOD_GRID, F.line_chart("t", [("a", [1.0, 2.0, None])]), F.table("t", ["a", "b"], [[1, 2.5], ["x", None]]),
             F.confusion_matrix("t", ["a", "b"], [[1, 2], [3, 4]])]
    for _ in range(500):
        figure = json.loads(json.dumps(rng.choice(goods)))
        for key in rng.sample(sorted(figure) + ["extra"], rng.randint(1, 3)):
            figure[key] = rng.choice(JUNK)
        html = str(F.render_figure(figure))
        assert "internal error" not in html and "<script" not in html
