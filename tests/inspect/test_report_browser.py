"""The HTML report in a real headless Chromium (Selenium): it draws, switches, and logs no errors.

Needs the ``selenium`` package (the ``inspect`` extra) and Chromium with its driver
(Debian: ``apt-get install chromium chromium-driver``); without them it skips and says which is
missing.
"""

import shutil

import pytest
from test_report import synthetic_trace  # pytest puts this test folder on sys.path

from lstmkit.inspect.report import write_report

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (pip install 'lstmkit[inspect]')"
)
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
)
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Chromium or chromedriver not on PATH (apt-get install chromium chromium-driver)",
)
BLANK_SHARE = """
const c = document.getElementById(arguments[0]);
const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
let coloured = 0;
for (let k = 0; k < px.length; k += 4) if (px[k] + px[k + 1] + px[k + 2] < 3 * 250) coloured++;
return coloured / (px.length / 4);
"""


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager would otherwise try to download one.
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    yield driver
    driver.quit()


def open_report(browser, trace, path):
    (html, *_) = write_report(trace, path)
    browser.get(html.as_uri())
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.body.dataset.ready") == "1"
    )
    return html


def errors(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def screenshot(browser, path) -> None:
    """The whole page, not only the window, saved to ``path`` (a PNG)."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(height + 150, 8000))
    assert browser.save_screenshot(str(path))
    browser.set_window_size(1400, 1000)
    assert path.read_bytes().startswith(b"\x89PNG")


def drawn(browser, canvas_id) -> tuple[str, str]:
    canvas = browser.find_element(By.ID, canvas_id)
    return canvas.get_attribute("data-drawn"), canvas.get_attribute("data-checksum")


def test_lm_report_draws_switches_and_explains(browser, tmp_path):
    trace = synthetic_trace("lm", layers=2, hidden=16, steps=40)
    trace["panels"][0]["tokens"][3] = "<img src=x onerror=window.pwned=1>"
    open_report(browser, trace, tmp_path / "lm.html")
    assert errors(browser) == []

    # The first memory unit is selected on load: its layer, its cell state, its row outlined.
    first = trace["memory"][0]
    what, checksum = drawn(browser, "heatmap")
    assert what == f"c:lstm:{first['layer']}:{first['direction']}"
    assert browser.execute_script(BLANK_SHARE, "heatmap") > 0.3
    for q in "fiogch":
        assert drawn(browser, f"heatmap-{q}")[0] == f"{q}:lstm:{first['layer']}:0"
    assert Select(browser.find_element(By.ID, "unit")).first_selected_option.text == "3"

    Select(browser.find_element(By.ID, "quantity")).select_by_value("f")
    what_f, checksum_f = drawn(browser, "heatmap")
    assert what_f == f"f:lstm:{first['layer']}:0"
    assert checksum_f != checksum
    Select(browser.find_element(By.ID, "layer")).select_by_value("0")
    what_layer, checksum_layer = drawn(browser, "heatmap")
    assert what_layer == "f:lstm:0:0"
    assert checksum_layer not in (checksum, checksum_f)
    Select(browser.find_element(By.ID, "unit")).select_by_value("-1")
    assert browser.find_element(By.ID, "text").get_attribute("data-drawn") == "f:lstm:0:0:-1"

    # Hovering a heatmap cell names its value, unit and token.
    ActionChains(browser).move_to_element(browser.find_element(By.ID, "heatmap")).perform()
    assert browser.find_element(By.ID, "tooltip").text.startswith("f = ")

    # Tokens are text, never markup.
    spans = browser.find_elements(By.CSS_SELECTOR, "#text span.tok")
    assert [s.get_attribute("textContent") for s in spans] == trace["panels"][0]["tokens"]
    assert browser.find_elements(By.CSS_SELECTOR, "#text script, #text img") == []
    assert browser.execute_script("return window.pwned") is None
    assert "<script>" in spans[2].get_attribute("textContent")

    # Hovering a token shows the model's top-5 next tokens there.
    ActionChains(browser).move_to_element(spans[5]).perform()
    tip = browser.find_element(By.ID, "tooltip")
    assert tip.is_displayed()
    assert "next token:" in tip.text
    assert len(tip.text.split("next token:")[1].strip().splitlines()) == 5

    # Clicking the second memory unit plots its trace and moves the heatmap to it.
    second = trace["memory"][1]
    browser.find_element(By.CSS_SELECTOR, 'tr.memory-row[data-index="1"]').click()
    assert drawn(browser, "unit-chart")[0] == "memory:1"
    assert browser.execute_script(BLANK_SHARE, "unit-chart") > 0.002
    assert drawn(browser, "heatmap")[0] == f"c:lstm:{second['layer']}:{second['direction']}"
    assert Select(browser.find_element(By.ID, "unit")).first_selected_option.text == "5"

    assert errors(browser) == []
    screenshot(browser, tmp_path / "report-lm.png")


def test_seq2seq_report_draws_attention_and_both_panels(browser, tmp_path):
    trace = synthetic_trace("seq2seq", layers=2, directions=2, hidden=12, steps=14)
    open_report(browser, trace, tmp_path / "seq2seq.html")
    assert drawn(browser, "attention")[0] == "attention"
    assert browser.execute_script(BLANK_SHARE, "attention") > 0.3
    encoder = drawn(browser, "heatmap")
    Select(browser.find_element(By.ID, "direction")).select_by_value("0")
    Select(browser.find_element(By.ID, "panel")).select_by_visible_text("decoder")
    decoder = drawn(browser, "heatmap")
    assert decoder[0] == "c:decoder:0:0"
    assert decoder[1] != encoder[1]
    assert [o.text for o in Select(browser.find_element(By.ID, "direction")).options] == ["forward"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#text span.tok")) == 7
    assert errors(browser) == []
    screenshot(browser, tmp_path / "report-seq2seq.png")


def test_forecast_report_draws_the_forecast(browser, tmp_path):
    trace = synthetic_trace("forecast", layers=1, hidden=8, steps=24)
    trace["memory"] = []
    open_report(browser, trace, tmp_path / "forecast.html")
    assert drawn(browser, "forecast-chart")[0] == "forecast:sales"
    assert browser.execute_script(BLANK_SHARE, "forecast-chart") > 0.01
    assert drawn(browser, "heatmap")[0] == "c:encoder:0:0"
    assert browser.find_element(By.ID, "notices").is_displayed()
    assert not browser.find_element(By.ID, "memory-table").is_displayed()
    assert not browser.find_element(By.ID, "unit-chart").is_displayed()
    assert "no memory units" in browser.find_element(By.ID, "unit-caption").text
    assert errors(browser) == []
    screenshot(browser, tmp_path / "report-forecast.png")


def test_caption_report_shows_its_inline_images(browser, tmp_path):
    trace = synthetic_trace("caption", layers=1, hidden=8, steps=8)
    trace["memory"] = []
    open_report(browser, trace, tmp_path / "caption.html")
    images = browser.find_elements(By.CSS_SELECTOR, "#caption-section img")
    assert len(images) == 1 + 8  # the image, then a map per step
    for image in images:  # each data: URI decoded by the browser itself
        assert browser.execute_script("return arguments[0].complete", image)
        assert browser.execute_script("return arguments[0].naturalWidth", image) > 0
    assert drawn(browser, "attention")[0] == "attention"
    assert drawn(browser, "heatmap")[0] == "c:decoder:0:0"
    assert errors(browser) == []
    screenshot(browser, tmp_path / "report-caption.png")
