"""The console in a real browser: Debian's chromium driven through chromedriver by Selenium,
against ``main.py serve`` running as a subprocess on a free loopback port over an event log that
holds two kiosks' events. Sign in, see both kiosks, filter the events, open a snapshot, download
the day's CSV, look at the health page, sign out; a page or an image fetched without a session
is refused. Each page is saved as a screenshot under test-artifacts/web/ for a person to look at.
"""

from __future__ import annotations

import csv
import http.client
import shutil
import socket
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from kiosk.camera.synthetic import load_portrait
from tests.helpers import PROJECT_ROOT
from tests.helpers.cli import main_command
from tests.helpers.events import write_config
from tests.web.conftest import ADMIN

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs Debian's chromium and chromium-driver (apt install chromium chromium-driver)")
SHOTS = PROJECT_ROOT / "test-artifacts" / "web"
WINDOW = (1280, 900)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def console_server(world, tmp_path):
    """``main.py serve`` on the world's files; yields its base URL."""
    config = write_config(tmp_path)
    with open(config, "a", encoding="utf-8") as out:
        out.write(f'[web]\nusers_db = "{world.users_db}"\n')
    port = _free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w", encoding="utf-8") as log:
        server = subprocess.Popen(main_command("serve", "--config", str(config), "--port", str(port)), cwd=PROJECT_ROOT,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"main.py serve did not start: {log_path.read_text()}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", log_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={WINDOW[0]},{WINDOW[1]}", "--lang=en-GB"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False,
                                              "download.directory_upgrade": True})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver, name: str) -> None:
    """The whole page, however long, as ``test-artifacts/web/<name>.png``."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(WINDOW[0], max(WINDOW[1], height + 120))
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.set_window_size(*WINDOW)


def _fetch(url: str, cookie: str = "") -> http.client.HTTPResponse:
    """One GET with no redirect followed, outside the browser."""
    host = url.split("/")[2]
    connection = http.client.HTTPConnection(host, timeout=10)
    connection.request("GET", "/" + url.split("/", 3)[3], headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def _rows(driver) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
            for row in driver.find_elements(By.CSS_SELECTOR, "table tbody tr")]


def _image_shown(driver, element) -> bool:
    return bool(driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", element))


def test_console_in_a_real_browser(world, console_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, server_log = console_server
    wait = WebDriverWait(browser, 20)
    denial = world.ids["south-door"][2]
    image_url = f"{base}/events/south-door/{denial}/image"

    # without a session: the page sends the browser to the login form, the image is refused
    browser.get(f"{base}/events")
    wait.until(lambda d: "/login" in d.current_url)
    _shot(browser, "login")
    assert _fetch(f"{base}/").status == 303 and _fetch(image_url).status == 401

    browser.find_element(By.NAME, "name").send_keys(ADMIN[0])
    browser.find_element(By.NAME, "password").send_keys(ADMIN[1])
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    wait.until(lambda d: d.current_url.endswith("/events"))  # back to the page first asked for

    browser.get(f"{base}/")
    kiosks = {row[0]: row for row in _rows(browser)}
    assert {"north-door", "south-door"} <= set(kiosks)
    assert kiosks["north-door"][1] == "online" and kiosks["north-door"][4:] == ["2", "3", "0"]
    assert kiosks["south-door"][4:] == ["2", "1", "1"]
    _shot(browser, "overview")

    browser.get(f"{base}/events")
    assert len(_rows(browser)) == 11
    thumbnails = browser.find_elements(By.CSS_SELECTOR, "td.face img")
    assert thumbnails and all(_image_shown(browser, img) for img in thumbnails)
    assert max(browser.execute_script("return arguments[0].naturalWidth", img) for img in thumbnails) <= 96
    _shot(browser, "events")
    Select(browser.find_element(By.NAME, "kiosk")).select_by_visible_text("south-door")
    Select(browser.find_element(By.NAME, "decision")).select_by_visible_text("denied")
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait.until(lambda d: "kiosk=south-door" in d.current_url)
    rows = _rows(browser)
    assert len(rows) == 2 and {row[2] for row in rows} == {"south-door"} and {row[3] for row in rows} == {"denied"}
    _shot(browser, "events_filtered")

    browser.find_element(By.CSS_SELECTOR, f"a[href='/events/south-door/{denial}']").click()
    snapshot = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "img.snapshot"))
    wait.until(lambda d: _image_shown(d, snapshot))
    assert browser.execute_script("return arguments[0].naturalWidth", snapshot) == load_portrait().shape[1]  # the frame
    assert browser.find_elements(By.CSS_SELECTOR, "form.danger")  # an admin sees the privacy request form
    _shot(browser, "event")

    browser.get(f"{base}/reports")
    chart = browser.find_element(By.CSS_SELECTOR, "figure.chart img")
    wait.until(lambda d: _image_shown(d, chart))
    _shot(browser, "reports")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Download the day's events").click()
    today = datetime.now().astimezone().date().isoformat()
    download = browser.downloads / f"events-{today}.csv"
    wait.until(lambda d: download.is_file() and download.stat().st_size > 0)
    rows = list(csv.DictReader(download.open(encoding="utf-8")))
    assert len(rows) == 10 and {row["kiosk_id"] for row in rows} == {"north-door", "south-door"}

    browser.get(f"{base}/health")
    assert any("stopped answering" in " ".join(row) for row in _rows(browser))
    _shot(browser, "health")

    session = browser.get_cookie("kiosk_console")
    assert session and session["httpOnly"] and session["sameSite"] == "Lax"
    assert _fetch(image_url, f"kiosk_console={session['value']}").status == 200  # the session opens the image...
    browser.find_element(By.CSS_SELECTOR, "form.account button").click()
    wait.until(lambda d: "/login" in d.current_url)
    assert _fetch(image_url, f"kiosk_console={session['value']}").status == 401  # ...and after signing out, not
    browser.get(f"{base}/reports")
    wait.until(lambda d: "/login" in d.current_url)
    browser.get(image_url)
    assert "login required" in browser.find_element(By.TAG_NAME, "body").text

    logged = Path(server_log).read_text(encoding="utf-8")
    assert "console login: alice (admin)" in logged and ADMIN[1] not in logged and session["value"] not in logged
