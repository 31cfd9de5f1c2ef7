#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The HTML viewer in a real browser: Debian's chromium, headless, network off.

    viewer_test.py DBTRACE_CLI MAKE_TRACE OUT_DIR

Records a known trace with make_trace, writes its page with
`dbtrace trace show --html`, opens it from a file:// URL and checks what a user
does with it. Leaves the page and a screenshot (viewer.png) in OUT_DIR.
"""
import json
import os
import subprocess
import sys
import unittest

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

CLI, MAKE_TRACE, OUT = sys.argv[1:4]


def setUpModule():
    global expected, page, driver
    os.makedirs(OUT, exist_ok=True)
    store = os.path.join(OUT, "trace.jsonl")
    if os.path.exists(store):
        os.remove(store)
    expected = json.loads(subprocess.run([MAKE_TRACE, os.path.abspath(store)], check=True, capture_output=True,
                                         text=True).stdout)
    page = os.path.join(OUT, "trace.html")
    subprocess.run([CLI, "trace", "show", expected["base_id"], "--html", "--out", page,
                    "--connection-string", "file://" + os.path.abspath(store)], check=True)

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1500,1000",
                # No network: every host name fails, and any proxy use goes nowhere.
                "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
                "--disable-background-networking"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_network_conditions(offline=True, latency=0, download_throughput=0,
                                  upload_throughput=0)
    driver.get("file://" + os.path.abspath(page))


def tearDownModule():
    driver.quit()


def rows():
    return driver.find_elements(By.CSS_SELECTOR, "#spacer .row")


def row_names():
    # Read in one script: rows are redrawn as the page reacts, which would
    # leave element handles stale between two reads.
    return driver.execute_script(
        "return [...document.querySelectorAll('#spacer .row .name')].map(e => e.textContent)")


def type_filter(text):
    """Types into the filter and waits until the rows shown follow it."""
    box = driver.find_element(By.ID, "filter")
    box.clear()
    box.send_keys(text)
    # The page applies the filter on a zero-delay timer after the last key: let it run.
    driver.execute_script("return new Promise(r => setTimeout(r, 50))")


def row_of(statement):
    for r in rows():
        if statement in r.text:
            return r
    raise AssertionError("no row shows " + statement)


class Viewer(unittest.TestCase):
    def setUp(self):
        # Every test starts from the whole tree, nothing filtered or selected.
        box = driver.find_element(By.ID, "filter")
        box.clear()
        driver.execute_script("document.getElementById('filter').dispatchEvent(new Event('input'))")
        driver.find_element(By.ID, "expand-all").click()

    def test_a_loads_offline_without_errors_or_requests(self):
        self.assertEqual(driver.title, "dbtrace trace " + expected["base_id"])
        self.assertEqual(driver.execute_script(
            "return performance.getEntriesByType('resource').length"), 0)
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        self.assertEqual(severe, [])

    def test_rows_equal_the_spans(self):
        self.assertEqual(row_names(), expected["names"])
        summary = driver.find_element(By.ID, "summary").text
        self.assertIn("%d spans" % len(expected["names"]), summary)
        self.assertIn("1 error", summary)

    def test_collapse_and_expand(self):
        everything = len(rows())
        rpc = [r for r in rows() if r.find_element(By.CSS_SELECTOR, ".name").text == "rpc"][0]
        rpc.find_element(By.CSS_SELECTOR, "[data-toggle]").click()
        self.assertEqual(len(rows()), everything - 6)  # its five reads and the failed one
        self.assertEqual([r for r in rows() if "order_audit" in r.text], [])
        row_of("load_orders").find_element(By.CSS_SELECTOR, "[data-toggle]").click()
        self.assertEqual(len(rows()), everything)
        driver.find_element(By.ID, "collapse-all").click()
        self.assertEqual(row_names(), ["wsgi"])
        driver.find_element(By.ID, "expand-all").click()
        self.assertEqual(len(rows()), everything)

    def test_a_failed_statement_shows_its_statement_message_and_sqlstate(self):
        row = row_of(expected["failed_statement"])
        self.assertIn("error", row.get_attribute("class"))
        row.click()
        details = driver.find_element(By.ID, "details").text
        self.assertIn(expected["failed_statement"], details)
        self.assertIn(expected["message"], details)
        self.assertIn(expected["sqlstate"], details)
        self.assertIn("db.internal:5432", details)
        self.assertIn('"db-stop"', details)  # the raw events

    def test_next_error_selects_the_failed_span(self):
        driver.find_element(By.ID, "collapse-all").click()
        driver.find_element(By.ID, "next-error").click()
        selected = driver.find_element(By.CSS_SELECTOR, ".row.selected")
        self.assertIn(expected["failed_statement"], selected.text)
        self.assertIn(expected["sqlstate"], driver.find_element(By.ID, "details").text)

    def test_the_filter_narrows_the_rows_to_matches_and_their_parents(self):
        type_filter("order_audit")
        self.assertEqual(row_names(), ["wsgi", "rpc", "db"])
        self.assertIn("order_audit", rows()[2].text)
        type_filter("orders-api")  # the service matches every span
        self.assertEqual(len(row_names()), len(expected["names"]))

    def test_hostile_statement_text_is_text_and_runs_nothing(self):
        row = row_of(expected["hostile_statement"])
        row.click()
        self.assertIn(expected["hostile_statement"], driver.find_element(By.ID, "details").text)
        self.assertIsNone(driver.execute_script("return window.__pwned"))
        self.assertEqual(driver.find_elements(By.TAG_NAME, "img"), [])

    def test_a_statement_of_the_table_highlights_its_spans(self):
        line = [r for r in driver.find_elements(By.CSS_SELECTOR, "#statements tr.stmt")
                if r.find_element(By.CSS_SELECTOR, "td.text").text
                == "SELECT * FROM orders WHERE user_id = $1"][0]
        cells = [c.text for c in line.find_elements(By.TAG_NAME, "td")]
        self.assertEqual(cells[1], str(expected["orders_statement_count"]))
        line.click()
        self.assertEqual(len(driver.find_elements(By.CSS_SELECTOR, ".row.hl")),
                         expected["orders_statement_count"])
        line.click()
        self.assertEqual(driver.find_elements(By.CSS_SELECTOR, ".row.hl"), [])

    def test_zoom_into_a_time_range_and_back(self):
        ticks = lambda: [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#axis .tick")]
        before = ticks()
        axis = driver.find_element(By.ID, "axis")
        width = axis.size["width"]
        ActionChains(driver).move_to_element_with_offset(axis, -width // 2 + 5, 0).click_and_hold() \
            .move_by_offset(width // 10, 0).release().perform()
        self.assertNotEqual(ticks(), before)
        driver.find_element(By.ID, "reset-zoom").click()
        self.assertEqual(ticks(), before)

    def test_z_screenshot(self):
        row_of(expected["failed_statement"]).click()
        path = os.path.join(OUT, "viewer.png")
        driver.save_screenshot(path)
        self.assertGreater(os.path.getsize(path), 10000)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
