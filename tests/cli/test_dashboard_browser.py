"""`kubectl hotfix dashboard` in a real headless Chromium (Debian's chromium and chromedriver, via Selenium):
pages load without console errors, the list follows a Hotfix's phase without a reload, the Hotfix page shows
its timeline and charts. A screenshot of each page is kept under .artifacts/dashboard/."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from hotfix_operator.rules.lifecycle import ABORT_REQUEST
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import free_port
from hotfix_operator.testbed.stack import TestBedState
from operator_support import FIXED_IMAGE, Cluster, hotfix_manifest

ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "dashboard"


@pytest.fixture
def dashboard_url(testbed_state: TestBedState, cluster: Cluster) -> Iterator[str]:
    command = [sys.executable, "-m", "hotfix_operator.cli.kubectl_plugin", "--kubeconfig", testbed_state.kubeconfig,
               "-n", cluster.namespace, "dashboard", "--port", str(free_port()),
               "--prometheus", testbed_state.prometheus_url]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert first_line.startswith("dashboard on http://127.0.0.1:"), first_line
        yield first_line.split()[2]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1400"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "chromedriver"))
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(browser: webdriver.Chrome) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(browser: webdriver.Chrome, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def test_dashboard_pages_in_a_real_browser(
    running_operator: OperatorProcess, cluster: Cluster, dashboard_url: str, browser: webdriver.Chrome
) -> None:
    cluster.create_deployment("web")
    cluster.apply_hotfix(hotfix_manifest("web-fix", ["web"], FIXED_IMAGE, stability={"checkpoints": ["10m"]}))
    cluster.wait_phase("web-fix", "Monitoring")
    wait = WebDriverWait(browser, 30)

    browser.get(dashboard_url)
    wait.until(lambda b: "Monitoring" in b.find_element(By.ID, "content").text)
    screenshot(browser, "hotfixes")
    # A person aborts: the open page follows, without a reload.
    cluster.annotate_hotfix("web-fix", ABORT_REQUEST, "test")
    cluster.wait_phase("web-fix", "Escalated")
    wait.until(lambda b: "Escalated" in b.find_element(By.ID, "content").text)
    assert console_errors(browser) == []

    browser.find_element(By.LINK_TEXT, "web-fix").click()
    wait.until(lambda b: "RolloutStarted" in b.find_element(By.ID, "content").text)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#charts figure svg"))
    captions = [element.text for element in browser.find_elements(By.CSS_SELECTOR, "#charts figcaption")]
    assert f"{cluster.namespace}/web errorRate" in captions, captions
    screenshot(browser, "hotfix")
    assert console_errors(browser) == []

    browser.get(f"{dashboard_url}incidents/INC-web-fix")
    wait.until(lambda b: "web-fix" in b.find_element(By.ID, "content").text)
    screenshot(browser, "incident")
    browser.find_element(By.PARTIAL_LINK_TEXT, "incident report").click()
    wait.until(lambda b: "Incident report: INC-web-fix" in b.find_element(By.TAG_NAME, "h1").text)
    assert browser.find_elements(By.CSS_SELECTOR, "figure.chart svg")
    screenshot(browser, "incident-report")
    assert console_errors(browser) == []
