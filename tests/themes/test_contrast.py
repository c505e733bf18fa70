"""Contrast arithmetic against WCAG 2.x's formula on known pairs, automatic text colours, nearest passing colours."""

from __future__ import annotations

import pytest

from portal.themes import contrast
from portal.themes.settings import DEFAULTS, PRESETS, preset


@pytest.mark.parametrize(("fg", "bg", "expected"), [
    ("#777777", "#ffffff", 4.48),  # the classic grey that just fails AA
    ("#767676", "#ffffff", 4.54),  # the lightest grey that passes on white
    ("#000000", "#ffffff", 21.0),
    ("#ffffff", "#ffffff", 1.0),
    ("#0000ff", "#ffffff", 8.59),
    ("#ff0000", "#ffffff", 4.0),
    ("#595959", "#ffffff", 7.0),
])
def test_contrast_ratios_match_known_wcag_values(fg, bg, expected):
    assert round(contrast.ratio(fg, bg), 2) == expected
    assert contrast.ratio(fg, bg) == contrast.ratio(bg, fg)  # the order of the pair does not matter


def test_relative_luminance_of_black_white_and_mid_grey():
    assert contrast.luminance("#000000") == 0 and contrast.luminance("#ffffff") == pytest.approx(1.0)
    assert contrast.luminance("#808080") == pytest.approx(0.2159, abs=1e-4)


def test_text_on_a_colour_is_chosen_for_contrast():
    assert contrast.text_on("#0b5cab") == "#ffffff"
    assert contrast.text_on("#ffd400") == "#000000"  # yellow: white would be 1.4:1
    for background in ("#777777", "#888888", "#ff0000", "#00ff00", "#123456", "#fedcba"):
        assert contrast.ratio(contrast.text_on(background), background) >= 4.5


def test_a_failing_pair_gets_the_nearest_passing_colour():
    suggestion = contrast.nearest_passing("#777777", "#ffffff", 4.5)
    assert suggestion == "#767676" and contrast.ratio(suggestion, "#ffffff") >= 4.5
    light = contrast.nearest_passing("#333333", "#000000", 4.5)  # on black, lighter is the way
    assert contrast.luminance(light) > contrast.luminance("#333333") and contrast.ratio(light, "#000000") >= 4.5
    assert contrast.nearest_passing("#000000", "#ffffff", 4.5) == "#000000"  # already fine: unchanged


def test_checks_flag_pairs_below_aa_with_the_ratio_and_a_suggestion():
    theme = {**DEFAULTS, "text_light": "#777777", "accent": "#ffee00"}
    failing = {c.name: c for c in contrast.failing(theme)}
    assert set(failing) == {"text_light", "accent_light"}
    assert failing["text_light"].shown_ratio == "4.47" or failing["text_light"].shown_ratio == "4.48"
    assert failing["text_light"].required == 4.5 and failing["accent_light"].required == 3.0
    assert contrast.ratio(failing["accent_light"].suggestion, "#ffffff") >= 3.0


def test_a_ratio_just_under_the_threshold_never_shows_as_passing():
    check = contrast.Check("x", "x", "text_light", "#777777", "#ffffff", 4.5)
    assert not check.passes and float(check.shown_ratio) < 4.5


@pytest.mark.parametrize("name", PRESETS)
def test_the_platform_default_and_every_preset_pass_aa(name):
    assert contrast.failing({**DEFAULTS, **preset(name)}) == []
