#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""First render of a viewer page in Debian's chromium, headless, and the time
of what a user then does on it (collapse and expand all, filter).

    viewer_render.py PAGE.html
"""
import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1500,1000"]:
    options.add_argument(arg)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    driver.get("file://" + os.path.abspath(sys.argv[1]))
    viewer = driver.execute_script("return window.dbtraceViewer")

    def timed(script):
        # Runs a user action, then waits for the next frame: the time until it is drawn.
        return driver.execute_async_script(
            "const done = arguments[0]; const t = performance.now();" + script +
            "; requestAnimationFrame(() => setTimeout(() => done(performance.now() - t), 0));")

    collapse = timed("document.getElementById('collapse-all').click()")
    expand = timed("document.getElementById('expand-all').click()")
    # Typing in the filter: until the rows shown change (the page waits 150 ms
    # for more typing on big traces, which is counted).
    filtered = driver.execute_async_script(
        "const done = arguments[0]; const t = performance.now();"
        "const f = document.getElementById('filter'); f.value = 'slot = 3';"
        "f.dispatchEvent(new Event('input'));"
        "(function poll() { if (document.getElementById('status').textContent.startsWith('showing'))"
        " requestAnimationFrame(() => done(performance.now() - t)); else setTimeout(poll, 2); })();")
    shown = driver.execute_script("return document.getElementById('status').textContent")
    print(json.dumps({"spans": viewer["spans"], "page_ready_ms": round(viewer["readyMs"]),
                      "script_ms": round(viewer["scriptMs"]), "collapse_all_ms": round(collapse),
                      "expand_all_ms": round(expand), "filter_with_150ms_wait_ms": round(filtered), "after_filter": shown}))
finally:
    driver.quit()
