"""Default object colours stay apart where it matters: on screen, for normal and colour-blind vision.

Distances are CIEDE2000 (ΔE00; about 2 is a just-noticeable difference) between the colours as the
canvas draws them: each mask blended over a mid-grey frame at the default opacity, through the real
compositor. "Colour-blind" is the worst of protanopia, deuteranopia and tritanopia.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.domain.model import DEFAULT_COLORS, ObjectInfo, default_color
from app.ui.compose import Layer, compose, hex_to_rgb
from app.ui.render import ViewOptions
from tests.colour_metrics import DICHROMACIES, difference

# The palette before issue 17: Okabe-Ito, then tab10 colours (some nearly repeat Okabe-Ito ones).
OLD_PALETTE = ("#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7",
               "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")

FIRST = 6                 # objects usually on screen together: every pair must differ
NEIGHBOURS = 2            # ids up to this far apart (k, k+1, k+2) must differ clearly
MIN_ANY_SOLID = 18.0      # normal vision, any two palette colours, drawn opaque (outline mode)
MIN_FIRST_SHOWN = 18.0    # normal vision, the first ids as blended on screen
MIN_FIRST_CVD = 7.0       # colour-blind, the first ids as blended on screen
MIN_NEAR_SHOWN = 22.0     # normal vision, neighbouring ids as blended on screen
MIN_NEAR_CVD = 9.0        # colour-blind, neighbouring ids as blended on screen


def shown(color: str) -> np.ndarray:
    """The colour a mask of ``color`` has on screen over a mid-grey frame at the default opacity."""
    frame = np.full((4, 4, 3), 128, np.uint8)
    out = compose(frame, [Layer(np.ones((4, 4), bool), hex_to_rgb(color))], opacity=ViewOptions().opacity)
    return out[1, 1].astype(float)


def worst_cvd(a: np.ndarray, b: np.ndarray) -> float:
    return min(difference(a, b, kind) for kind in DICHROMACIES)


def problems(palette: tuple[str, ...]) -> list[str]:
    """Every requirement the palette misses, as readable lines (empty: it passes)."""
    found = []
    ids = range(1, 2 * len(palette) + 1)  # twice round: the wrap from the last colour to the first too
    colour = {i: palette[(i - 1) % len(palette)] for i in ids}
    for a, b in itertools.combinations(sorted(set(palette)), 2):
        if (d := difference(np.array(hex_to_rgb(a)), np.array(hex_to_rgb(b)))) < MIN_ANY_SOLID:
            found.append(f"{a} and {b} are near-repeats: ΔE00 {d:.1f}")
    for i, j in itertools.combinations(range(1, FIRST + 1), 2):
        a, b = shown(colour[i]), shown(colour[j])
        if (d := difference(a, b)) < MIN_FIRST_SHOWN:
            found.append(f"ids {i} and {j} on screen: ΔE00 {d:.1f}")
        if (d := worst_cvd(a, b)) < MIN_FIRST_CVD:
            found.append(f"ids {i} and {j} on screen, colour-blind: ΔE00 {d:.1f}")
    for i in range(1, len(palette) + 1):
        for step in range(1, NEIGHBOURS + 1):
            j = i + step
            a, b = shown(colour[i]), shown(colour[j])
            if (d := difference(a, b)) < MIN_NEAR_SHOWN:
                found.append(f"neighbours {i} and {j} on screen: ΔE00 {d:.1f}")
            if (d := worst_cvd(a, b)) < MIN_NEAR_CVD:
                found.append(f"neighbours {i} and {j} on screen, colour-blind: ΔE00 {d:.1f}")
    return found


def test_the_default_palette_keeps_objects_apart() -> None:
    assert problems(DEFAULT_COLORS) == []


def test_the_old_palette_fails_the_same_check_including_objects_1_and_4() -> None:
    found = problems(OLD_PALETTE)
    assert any(line.startswith("ids 1 and 4 on screen:") for line in found), found
    assert any("near-repeats" in line for line in found)


def test_the_metric_knows_its_reference_values() -> None:
    # Sharma et al. (2005) test pair 1 and a colour-blind classic: red vs green nearly merge in deuteranopia.
    from tests.colour_metrics import delta_e2000
    assert delta_e2000((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    red, green = np.array([200.0, 60, 40]), np.array([90.0, 140, 40])
    assert difference(red, green) > 30 and difference(red, green, "deuteranopia") < difference(red, green) / 2


def test_new_objects_take_the_palette_in_id_order() -> None:
    assert default_color(1) == DEFAULT_COLORS[0] == ObjectInfo(1, "x").color
    assert default_color(len(DEFAULT_COLORS) + 1) == DEFAULT_COLORS[0]
    assert [default_color(i) for i in range(1, len(DEFAULT_COLORS) + 1)] == list(DEFAULT_COLORS)
    assert len(set(DEFAULT_COLORS)) == len(DEFAULT_COLORS)
