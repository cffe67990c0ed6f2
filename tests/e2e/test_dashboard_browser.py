"""The dashboard's bars as Chromium lays them out with the stylesheet."""

import pytest

from tests.test_dashboard import DASHBOARD, STYLESHEET, _one_among

_BAR_WIDTHS = """bars => bars.map(bar => [
    bar.getBoundingClientRect().width, bar.parentElement.getBoundingClientRect().width
])"""


@pytest.mark.django_db
@pytest.mark.parametrize("width", [1366, 390])
def test_a_bar_of_one_among_30000_is_drawn_at_least_4px_wide(client, browser, width):
    """The page as served, laid out by Chromium with the stylesheet: the tiny bar shows, the
    longest fills its track, and at a phone's width nothing scrolls sideways."""
    staff, _reseller = _one_among(30_000)
    client.force_login(staff)
    html = client.get(DASHBOARD).content.decode()
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.set_content(html.replace('rel="stylesheet"', 'rel="x-not-loaded"'))
        page.add_style_tag(content=STYLESHEET.read_text(encoding="utf-8"))
        widths = page.eval_on_selector_all(".bar", _BAR_WIDTHS)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    finally:
        page.close()
    (longest, track), (tiny, _track) = widths
    assert longest == pytest.approx(track)
    assert 4 <= tiny < 5
    assert overflow <= 0
