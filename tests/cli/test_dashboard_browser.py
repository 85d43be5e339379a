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

    # A card per Hotfix: phase colour, severity, incident, targets and images, thresholds, the next step.
    browser.get(dashboard_url)
    wait.until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "article.card[data-phase=Monitoring] .thresholds .state-healthy")
    )
    card = browser.find_element(By.CSS_SELECTOR, "article.card")
    assert "tone-busy" in card.get_attribute("class")
    assert "SEV1" in card.text and "INC-web-fix" in card.text and "web → app:1.2-hotfix-good" in card.text
    assert "Next: the operator judges the thresholds" in card.text
    screenshot(browser, "hotfixes")
    # A person aborts: the open page follows, without a reload, and the card turns red.
    cluster.annotate_hotfix("web-fix", ABORT_REQUEST, "test")
    cluster.wait_phase("web-fix", "Escalated")
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "article.card.tone-bad[data-phase=Escalated]"))
    assert console_errors(browser) == []

    # The Hotfix page: charts first, then the tree as kubectl hotfix status prints it, then the timeline.
    browser.find_element(By.LINK_TEXT, "web-fix").click()
    wait.until(lambda b: "RolloutStarted" in b.find_element(By.ID, "timeline").text)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#charts figure svg"))
    sections = [element.get_attribute("id") for element in browser.find_elements(By.CSS_SELECTOR, "#content > section")]
    assert sections == ["charts", "tree", "timeline"]
    captions = [element.text for element in browser.find_elements(By.CSS_SELECTOR, "#charts figcaption")]
    assert f"{cluster.namespace}/web error rate" in captions, captions
    tree = browser.find_element(By.CSS_SELECTOR, "#tree pre").text
    assert "deployment/web" in tree and "ReplicaSet web-" in tree and "Next: a person must act" in tree, tree
    charts_drawn = browser.find_element(By.CSS_SELECTOR, "#charts .charts").get_attribute("data-loaded")
    screenshot(browser, "hotfix")
    # The charts are drawn again on their own beat, without a reload.
    wait_charts = WebDriverWait(browser, 30)
    wait_charts.until(
        lambda b: b.find_element(By.CSS_SELECTOR, "#charts .charts").get_attribute("data-loaded") != charts_drawn
    )
    assert console_errors(browser) == []

    # The incident page: its Hotfixes' cards and its whole report.
    browser.get(f"{dashboard_url}incidents/INC-web-fix")
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "article.card"))
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    wait.until(lambda b: "Incident report: INC-web-fix" in b.find_element(By.TAG_NAME, "h1").text)
    assert browser.find_elements(By.CSS_SELECTOR, "figure.chart svg")
    browser.switch_to.default_content()
    screenshot(browser, "incident")
    assert console_errors(browser) == []
