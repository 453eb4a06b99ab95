"""Figures for the HTML report: the trusted process builds JSON-able figure dicts, the report renders them.

Builders (``image_grid``, ``line_chart``, ``table``, ``confusion_matrix``) normalise untrusted numbers and text from a
student's run (non-finite -> None, strings truncated, lists capped). ``render_figure`` treats its input as hostile too:
a result.json can be edited by anyone, so every field is type-checked and anything malformed becomes a short, escaped
note instead of an exception. Images are encoded as grayscale PNGs here (numpy + zlib), so no imaging library is needed.
"""

from __future__ import annotations

import base64
import binascii
import math
import numbers
import re
import struct
import zlib
from typing import Any

import numpy as np
from markupsafe import Markup

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_GRID_ROWS, MAX_GRID_COLS, MAX_IMAGE_SIDE = 8, 16, 256
MAX_SERIES, MAX_POINTS, MAX_TABLE_ROWS, MAX_COLUMNS, MAX_CLASSES = 10, 1000, 100, 50, 50
MAX_TEXT, MAX_BASE64, MAX_FIGURES = 300, 8_000_000, 100
GREY = 128
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 520, 280, 64, 504, 14, 236  # line chart canvas and plot area
_EMPTY = Markup("")

FIGURE_CSS = """
.figure { margin: 1rem 0; } .figure figcaption { font-weight: 600; margin-bottom: .3rem; }
.figure .grid { display: flex; gap: 1rem; align-items: flex-start; } .figure img { image-rendering: pixelated; }
.figure .legend { list-style: none; padding: 0; margin: .2rem 0; font-size: .85rem; }
.figure .legend li { display: inline-block; margin-right: 1rem; } .figure svg text { font-size: 11px; fill: #3b4252; }
.figure .swatch { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: middle; }
.figure-table, .cm { width: auto; } .figure-table td.num { text-align: right; }
.cm td { text-align: right; min-width: 2.5rem; font-variant-numeric: tabular-nums; }
.cm th.corner { font-weight: normal; color: #6b7385; font-size: .8rem; }
"""


class _Malformed(ValueError):
    """A figure dict that cannot be shown; the message is safe to show (it names fields, never values)."""


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _finite(value: Any) -> float | None:
    """A finite float, or None for anything else (NaN, inf, overflowing ints, bools, strings, objects)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        return None
    return number if math.isfinite(number) else None


def _cell(value: Any) -> str | int | float | None:
    if value is None or isinstance(value, str):
        return None if value is None else _text(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(int(value)) < 2**53:
        return int(value)
    return _finite(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else _text(value)


def _count(value: Any) -> int | None:
    number = _finite(value)
    return int(number) if number is not None and 0 <= number < 2**53 and number == int(number) else None


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png_gray(image: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG of a non-empty 2-D uint8 array (filter type 0 on every scanline)."""
    array = np.asarray(image)
    if array.ndim != 2 or array.dtype != np.uint8 or 0 in array.shape:
        raise ValueError(f"expected a non-empty 2-D uint8 array, got {array.dtype} {array.shape}")
    height, width = array.shape
    raw = np.hstack([np.zeros((height, 1), np.uint8), array]).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def _to_unit(images: Any) -> np.ndarray:
    array = np.asarray(images)
    array = array[None] if array.ndim == 2 else array
    if array.ndim != 3 or array.shape[1] > MAX_IMAGE_SIDE or array.shape[2] > MAX_IMAGE_SIDE:
        raise ValueError(f"each row must be (K, H, W) images of at most {MAX_IMAGE_SIDE} pixels, got {array.shape}")
    unit = array.astype(np.float64) / 255.0 if array.dtype == np.uint8 else array.astype(np.float64)
    return np.clip(np.nan_to_num(unit, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)[:MAX_GRID_COLS]


def image_grid(rows: list[np.ndarray], row_labels: list[str], title: str, scale: int = 2, gap: int = 2) -> dict:
    """One PNG of up to 8 rows x 16 images; ``gap`` output pixels of grey separate the (scaled) images and rows.

    Cells are the largest H x W over all rows (smaller images sit top-left on grey, as do missing ones), so
    ``width = cols * W * scale + (cols - 1) * gap``, likewise height. Raises ValueError when there is no image.
    """
    if not 1 <= scale <= 16 or not 0 <= gap <= 64:
        raise ValueError("scale must be 1..16 and gap 0..64")
    arrays = [_to_unit(row) for row in list(rows)[:MAX_GRID_ROWS]]
    cols = max((a.shape[0] for a in arrays), default=0)
    if cols == 0:
        raise ValueError("image_grid needs at least one image")
    cell_h, cell_w = max(a.shape[1] for a in arrays) * scale, max(a.shape[2] for a in arrays) * scale
    height, width = len(arrays) * cell_h + (len(arrays) - 1) * gap, cols * cell_w + (cols - 1) * gap
    canvas = np.full((height, width), GREY, np.uint8)
    for r, array in enumerate(arrays):
        for k, image in enumerate(array):
            big = np.repeat(np.repeat(np.rint(image * 255).astype(np.uint8), scale, axis=0), scale, axis=1)
            top, left = r * (cell_h + gap), k * (cell_w + gap)
            canvas[top: top + big.shape[0], left: left + big.shape[1]] = big
    labels = [_text(label) for label in list(row_labels)[: len(arrays)]]
    labels += [f"row {i + 1}" for i in range(len(labels), len(arrays))]
    return {"type": "image_grid", "title": _text(title), "row_labels": labels,
            "png_base64": base64.b64encode(encode_png_gray(canvas)).decode("ascii"), "width": width, "height": height}


def line_chart(title: str, series: list[tuple[str, list[float]]], x_label: str = "epoch",
               y_label: str = "loss") -> dict:
    """Up to 10 series of up to 1000 points; non-finite or non-numeric values become None (gaps in the line)."""
    return {"type": "line_chart", "title": _text(title), "x_label": _text(x_label), "y_label": _text(y_label),
            "series": [{"name": _text(name), "values": [_finite(v) for v in list(values)[:MAX_POINTS]]}
                       for name, values in list(series)[:MAX_SERIES]]}


def table(title: str, columns: list[str], rows: list[list[Any]]) -> dict:
    """Up to 100 rows (50 columns) of str/int/float/None cells; short rows are padded with None, headers with ""."""
    kept = [[_cell(c) for c in list(row)[:MAX_COLUMNS]] for row in list(rows)[:MAX_TABLE_ROWS]]
    names = [_text(c) for c in list(columns)[:MAX_COLUMNS]]
    width = max([len(names)] + [len(row) for row in kept])
    return {"type": "table", "title": _text(title), "columns": names + [""] * (width - len(names)),
            "rows": [row + [None] * (width - len(row)) for row in kept]}


def confusion_matrix(title: str, labels: list[str], matrix: list[list[int]]) -> dict:
    """n x n counts (rows = true class, columns = predicted; n <= 50); invalid counts -> None, ragged rows -> 0."""
    rows = list(matrix)[:MAX_CLASSES]
    n = min(max(len(labels), len(rows)), MAX_CLASSES)
    names = [_text(label) for label in list(labels)[:n]] + [f"class {i}" for i in range(len(labels), n)]
    counts = [[_count(v) for v in list(row)[:n]] for row in rows] + [[] for _ in range(n - len(rows))]
    return {"type": "confusion_matrix", "title": _text(title), "labels": names,
            "matrix": [row + [0] * (n - len(row)) for row in counts]}


def _field(figure: dict, key: str, kind: type | tuple[type, ...], limit: int | None = None,
           items: type | tuple[type, ...] | None = None) -> Any:
    value = figure.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _Malformed(f"field {key!r} is missing or has the wrong type")
    if limit is not None and len(value) > limit:
        raise _Malformed(f"field {key!r} has more than {limit} entries")
    if items is not None and not all(isinstance(v, items) for v in value):
        raise _Malformed(f"field {key!r} has entries of the wrong type")
    return value


def _y_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """4-6 (value, label) ticks on a 1/2/2.5/5 x 10^k step that cover [lo, hi]; a flat range is widened first.

    Labels get 3 significant digits, more where the step needs them (1002.5 next to 1005) or to avoid ``6e+03``.
    """
    if hi - lo <= max(abs(hi), abs(lo)) * 1e-9 or hi - lo < 1e-200:
        pad = abs(hi) * 0.1 if abs(hi) > 1e-200 else 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / 4
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    first, last = math.floor(lo / step), math.ceil(hi / step)
    top = math.floor(math.log10(max(abs(first), abs(last), 1) * step))
    digits = min(15, max(3, top - math.floor(math.log10(step)) + 2, top + 1 if top < 6 else 0))
    return [(k * step, f"{k * step:.{digits}g}" if k else "0") for k in range(first, last + 1)]


def _plot(parsed: list[tuple[str, list[float | None]]]) -> list[Markup]:
    """Grid lines, tick labels, polylines (broken at None) and point markers inside the plot area."""
    finite = [v for _, values in parsed for v in values if v is not None]
    if not finite:
        return [Markup('<text x="{}" y="{}" text-anchor="middle">no finite values</text>').format(
            (_LEFT + _RIGHT) / 2, (_TOP + _BOTTOM) / 2)]
    ticks, n = _y_ticks(min(finite), max(finite)), max(len(values) for _, values in parsed)
    lo, span = ticks[0][0], (ticks[-1][0] - ticks[0][0]) or 1.0

    def y(v: float) -> float:
        return _BOTTOM - (v - lo) / span * (_BOTTOM - _TOP)

    def x(i: int) -> float:
        return (_LEFT + _RIGHT) / 2 if n == 1 else _LEFT + i / (n - 1) * (_RIGHT - _LEFT)

    parts = [Markup('<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" stroke="#e6e8ee"/><text x="{3}" y="{4:.1f}" '
                    'text-anchor="end">{5}</text>').format(_LEFT, _RIGHT, y(t), _LEFT - 4, y(t) + 4, label)
             for t, label in ticks]
    x_step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if n / s <= 10)
    parts += [Markup('<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>').format(x(i), _BOTTOM + 14, i + 1)
              for i in range(0, n, x_step)]
    for index, (_, values) in enumerate(parsed):
        colour, runs, run = PALETTE[index % len(PALETTE)], [], []
        for i, v in enumerate([*values, None]):
            if v is not None:
                run.append((x(i), y(v)))
            elif run:
                runs, run = [*runs, run], []
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
                parts.append(Markup('<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>').format(
                    colour, points))
            if len(run) == 1 or n <= 100:
                parts += [Markup('<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}"/>').format(px, py, colour)
                          for px, py in run]
    return parts


def _render_line_chart(figure: dict) -> Markup:
    title, x_label, y_label = (_text(_field(figure, k, str)) for k in ("title", "x_label", "y_label"))
    parsed: list[tuple[str, list[float | None]]] = []
    for entry in _field(figure, "series", list, MAX_SERIES, dict):
        values = _field(entry, "values", list, MAX_POINTS, (type(None), int, float))
        if any(isinstance(v, bool) for v in values):
            raise _Malformed("series values must be numbers or null")
        parsed.append((_text(_field(entry, "name", str)),
                       [None if (f := _finite(v)) is None else max(-1e300, min(1e300, f)) for v in values]))
    svg = Markup('<svg viewBox="0 0 {0} {1}" width="{0}" height="{1}" role="img" aria-label="{2}"><title>{2}</title>'
                 '<text x="{3}" y="{4}" text-anchor="middle">{5}</text><text transform="translate(14 {6}) rotate(-90)" '
                 'text-anchor="middle">{7}</text>{8}<line x1="{9}" x2="{9}" y1="{10}" y2="{11}" stroke="#3b4252"/>'
                 '<line x1="{9}" x2="{12}" y1="{11}" y2="{11}" stroke="#3b4252"/></svg>').format(
        _W, _H, title, (_LEFT + _RIGHT) / 2, _H - 6, x_label, (_TOP + _BOTTOM) / 2, y_label,
        _EMPTY.join(_plot(parsed)), _LEFT, _TOP, _BOTTOM, _RIGHT)
    legend = _EMPTY.join(Markup('<li><span class="swatch" style="background:{}"></span>{}</li>').format(
        PALETTE[i % len(PALETTE)], name) for i, (name, _) in enumerate(parsed))
    return Markup('<figure class="figure"><figcaption>{}</figcaption>{}<ul class="legend">{}</ul></figure>').format(
        title, svg, legend)


def _render_image_grid(figure: dict) -> Markup:
    title, labels = _text(_field(figure, "title", str)), _field(figure, "row_labels", list, MAX_GRID_ROWS, str)
    width, height = _field(figure, "width", int), _field(figure, "height", int)
    encoded = _field(figure, "png_base64", str, MAX_BASE64)
    if len(encoded) % 4 or not _BASE64_RE.fullmatch(encoded):
        raise _Malformed("png_base64 is not base64")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise _Malformed("png_base64 is not base64") from error
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise _Malformed("png_base64 is not a PNG image")
    if struct.unpack(">II", data[16:24]) != (width, height):
        raise _Malformed("width/height do not match the PNG")
    items = _EMPTY.join(Markup("<li>{}</li>").format(_text(label)) for label in labels)
    return Markup('<figure class="figure"><figcaption>{0}</figcaption><div class="grid"><img alt="{0}: rows {1}" '
                  'width="{2}" height="{3}" src="data:image/png;base64,{4}"><ol class="muted">{5}</ol></div>'
                  '</figure>').format(title, ", ".join(_text(label) for label in labels), width, height, encoded, items)


def _format_cell(value: Any) -> str:
    if isinstance(value, str):
        return _text(value)
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or abs(value) >= 1e308:
        return "—"
    return f"{float(value):.4g}" if isinstance(value, float) or abs(value) >= 2**53 else str(value)


def _render_table(figure: dict) -> Markup:
    title, columns = _text(_field(figure, "title", str)), _field(figure, "columns", list, MAX_COLUMNS, str)
    rows = _field(figure, "rows", list, MAX_TABLE_ROWS, list)
    if not all(len(row) <= MAX_COLUMNS and all(c is None or isinstance(c, (str, int, float)) for c in row)
               for row in rows):
        raise _Malformed("table rows must be lists of text, numbers or null")
    head = _EMPTY.join(Markup("<th>{}</th>").format(_text(c)) for c in columns)
    body = _EMPTY.join(Markup("<tr>{}</tr>").format(_EMPTY.join(
        Markup('<td class="{}">{}</td>').format("num" if isinstance(c, (int, float)) else "", _format_cell(c))
        for c in row)) for row in rows)
    return Markup('<figure class="figure"><figcaption>{}</figcaption><table class="figure-table"><thead><tr>{}</tr>'
                  "</thead><tbody>{}</tbody></table></figure>").format(title, head, body)


def _render_confusion_matrix(figure: dict) -> Markup:
    title, labels = _text(_field(figure, "title", str)), _field(figure, "labels", list, MAX_CLASSES, str)
    matrix = _field(figure, "matrix", list, MAX_CLASSES, list)
    if len(matrix) != len(labels) or not all(len(row) == len(labels) and all(
            c is None or (type(c) is int and 0 <= c < 2**53) for c in row) for row in matrix):
        raise _Malformed("matrix must be n x n non-negative counts for n labels")
    head = _EMPTY.join(Markup('<th class="num">{}</th>').format(_text(label)) for label in labels)
    body = []
    for label, row in zip(labels, matrix, strict=True):
        total = sum(c or 0 for c in row)
        cells = [Markup('<td style="background: rgba(31, 119, 180, {0:.3f}); color: {1}">{2}</td>').format(
            alpha, "#fff" if alpha > 0.6 else "#1d2330", "—" if count is None else count)
            for count, alpha in ((c, (c or 0) / total if total else 0.0) for c in row)]
        body.append(Markup("<tr><th>{}</th>{}</tr>").format(_text(label), _EMPTY.join(cells)))
    return Markup('<figure class="figure"><figcaption>{} <span class="muted">(rows: true class, columns: predicted)'
                  '</span></figcaption><table class="cm"><thead><tr><th class="corner">true \\ predicted</th>{}</tr>'
                  "</thead><tbody>{}</tbody></table></figure>").format(title, head, _EMPTY.join(body))


_RENDERERS = {"image_grid": _render_image_grid, "line_chart": _render_line_chart, "table": _render_table,
              "confusion_matrix": _render_confusion_matrix}


def render_figure(figure: Any) -> Markup:
    """HTML for one figure dict; never raises: anything malformed renders as a short escaped note."""
    try:
        kind = figure.get("type") if isinstance(figure, dict) else None
        if not isinstance(kind, str) or kind not in _RENDERERS:
            raise _Malformed("not a figure of a known type")
        return _RENDERERS[kind](figure)
    except Exception as error:  # a report must render whatever result.json holds
        reason = str(error) if isinstance(error, _Malformed) else f"internal error ({type(error).__name__})"
        return Markup('<p class="muted">figure could not be shown: {}</p>').format(reason)


def render_figures(figures: Any) -> Markup:
    """Several figures in order (at most 100); anything but a list renders as nothing."""
    return Markup("\n").join(render_figure(f) for f in figures[:MAX_FIGURES]) if isinstance(figures, list) else _EMPTY
