"""Training curves as a self-contained HTML page (inline SVG, no scripts, no network), for
the Kubeflow UI's HTML viewer."""

from __future__ import annotations

import html

CHARTS = (
    ("loss", "loss (masked words + masked entities)"),
    ("masked_lm_accuracy", "masked word accuracy"),
    ("masked_entity_accuracy", "masked entity accuracy"),
    ("lr", "learning rate"),
)
WIDTH, HEIGHT, PAD = 460, 220, 40


def curves_html(rows: list[dict], title: str) -> str:
    charts = "".join(_chart(rows, key, label) for key, label in CHARTS)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif} svg{margin:8px;border:1px solid #ddd}</style>"
        f"</head><body><h2>{html.escape(title)}</h2>{charts}</body></html>"
    )


def _chart(rows: list[dict], key: str, label: str) -> str:
    points = [(r["step"], r[key]) for r in rows if r.get(key) is not None and "step" in r]
    if not points:
        return f"<p>{html.escape(label)}: no data</p>"
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
    scaled = " ".join(
        f"{PAD + (x - x0) / (x1 - x0) * (WIDTH - 2 * PAD):.1f},"
        f"{HEIGHT - PAD - (y - y0) / (y1 - y0) * (HEIGHT - 2 * PAD):.1f}"
        for x, y in points
    )
    return (
        f"<svg width='{WIDTH}' height='{HEIGHT}' xmlns='http://www.w3.org/2000/svg'>"
        f"<text x='{PAD}' y='20'>{html.escape(label)}: last {ys[-1]:.4g}</text>"
        f"<polyline fill='none' stroke='#1f77b4' stroke-width='2' points='{scaled}'/>"
        f"<text x='{PAD}' y='{HEIGHT - 10}'>step {x0}</text>"
        f"<text x='{WIDTH - PAD - 60}' y='{HEIGHT - 10}'>step {x1}</text>"
        f"<text x='4' y='{PAD}'>{y1:.3g}</text><text x='4' y='{HEIGHT - PAD}'>{y0:.3g}</text>"
        "</svg>"
    )
