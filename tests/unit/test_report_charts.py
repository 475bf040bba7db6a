"""The report charts are labelled in Chinese with a CJK font matplotlib really has glyphs for
(fonts-noto-cjk, set explicitly): drawing them warns of no missing glyph."""
import warnings

import pytest

from app.services import report_pdf

HISTORY = [{"payers": 1000 + i, "share_fen": 150 + i, "aid_collected_fen": 150_000 + i} for i in range(4)]


def test_the_charts_are_labelled_in_chinese_and_every_glyph_is_drawn():
    font = report_pdf.cjk_font()
    assert font is not None, "fonts-noto-cjk: scripts/browser_packages.sh installs it (make test runs it)"
    assert all("\u4e00" <= title[0] <= "\u9fff" for _, title, _ in report_pdf.CHART_SERIES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)" for each box it draws
        png = report_pdf.charts_png(HISTORY)
    assert png.startswith(b"\x89PNG")


def test_without_the_cjk_font_the_same_labels_would_be_boxes(monkeypatch):
    """The check above can fail: matplotlib's default font lacks the glyphs and says so."""
    monkeypatch.setattr(report_pdf, "cjk_font", lambda: None)
    with pytest.warns(UserWarning, match="missing from font"):
        report_pdf.charts_png(HISTORY)
