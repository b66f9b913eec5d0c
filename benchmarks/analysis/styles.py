"""One look per variant, in every figure of every experiment.

A series' style is a function of its label alone (the model and the settings that vary, e.g.
"glstm d_k=8 d=16 khop=on"): the colour family comes from the model (a fixed table for the
suite's models, a stable hash of the name for any other), the shade and the marker from a stable
hash of the rest of the label, and k-hop / FA settings switched on draw dashed. Published numbers
take the style of their own label, hollow and dotted. So the same variant looks the same in two
figures, and the variants of one model differ.
"""

from __future__ import annotations

import hashlib
import math

import matplotlib.colors as mcolors

# Distinct base colours (matplotlib's tab10, then Dark2's).
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#666666",
)
# The suite's models, each with a base colour of its own.
MODELS = (
    "glstm",
    "gcn",
    "gin",
    "gatv2",
    "slstm",
    "lstm",
    "gat",
    "ggnn",
    "sage",
    "gcnii",
    "adgn",
    "gine",
    "gatedgcn",
    "drew",
    "gps",
    "kgcn_ssm",
    "gcn_ssm",
    "glstm_clean",
)
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "<", ">", "*", "h", "p")
# Blend towards white (> 0) or black (< 0): the shades of one model's variants.
SHADES = (0.0, -0.35, 0.4, -0.6, 0.65, 0.2)
DASHED = ("khop=on", "last_layer_fa=on")
CHANCE = dict(color="0.45", ls=":", lw=1.0)


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big")


def model_colour(model: str) -> str:
    """The base colour of `model`."""
    if model in MODELS:
        return PALETTE[MODELS.index(model) % len(PALETTE)]
    return PALETTE[_hash(model) % len(PALETTE)]


def _shade(colour: str, amount: float) -> tuple[float, float, float]:
    rgb = mcolors.to_rgb(colour)
    target = 1.0 if amount > 0 else 0.0
    return tuple(c + abs(amount) * (target - c) for c in rgb)


def split_label(label: str) -> tuple[str, list[str]]:
    """(model, the label's setting words)."""
    model, *words = str(label).split()
    return model, words


def _value(word: str):
    """The value of a ``key=value`` word: a number, True / False for on / off, else text."""
    value = word.split("=", 1)[-1]
    if value in ("on", "off"):
        return value == "on"
    try:
        return float(value)
    except ValueError:
        return value


def _octave(value, steps: int) -> int:
    """`value` on a log2 ladder with `steps` rungs per octave (text: a stable hash)."""
    if isinstance(value, str):
        return _hash(value)
    return round(steps * math.log2(abs(value))) if value else 0


def style(label: str) -> dict:
    """Line style of the series `label` ("model key=value ..."): colour, marker, line style.

    The model gives the colour family; the first numeric setting picks the shade by its octave
    (six consecutive octaves: six shades), and the marker combines that value at a twelfth of an
    octave with the next setting's octave and the on / off settings, so the variants of a sweep
    over sizes, widths, learning rates or switches differ. A switch of :data:`DASHED` that is on
    draws dashed. The plain model (no words) gets its base colour and a circle."""
    model, words = split_label(label)
    values = [_value(w) for w in words]
    switches = [v for v in values if isinstance(v, bool)]
    settings = [(w, v) for w, v in zip(words, values, strict=True) if not isinstance(v, bool)]
    shade = marker = 0
    if settings:
        first = settings[0][1]
        shade = _octave(first, 1) if not isinstance(first, str) else _hash(settings[0][0])
        marker = _octave(first, 12) if not isinstance(first, str) else 0
    for i, (word, value) in enumerate(settings[1:]):
        marker += (5 + i) * (_octave(value, 1) if not isinstance(value, str) else _hash(word))
    marker += sum((7 if on else 3) * 2**i for i, on in enumerate(switches))
    dashed = any(w in DASHED for w in words)
    colour = _shade(model_colour(model), SHADES[shade % len(SHADES)])
    marker = MARKERS[marker % len(MARKERS)]
    return {"color": colour, "marker": marker, "ls": "--" if dashed else "-"}


def published_style(label: str) -> dict:
    """The style of published points of `label`: its own colour and marker, hollow, dotted."""
    s = style(label)
    return {"color": s["color"], "marker": s["marker"], "mfc": "none", "ls": ":"}
