"""Make the README's screenshot of ``mazepolicy explore`` (docs/images/explore.png):
the shipped policy and its control on a maze-anywhere maze, steered by the cheese vector, with a
cheese-tracking channel's heatmap, in headless Debian chromium driven by Playwright.

    python docs/explore_screenshot.py [--out docs/images/explore.png]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
from urllib.parse import urlencode

from mazepolicy.explore.lab import Lab
from mazepolicy.explore.server import make_server, server_url

VIEW = {"variant": "maze-anywhere", "seed": 2, "vector": "cheese", "coeff": -1,
        "show": "steered"}
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images/explore.png")
    args = parser.parse_args()
    lab = Lab({"policy": "maze-topright-5_impala-s1", "control": "maze-anywhere_impala-s1"})
    server = make_server(lab, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as driver:
        browser = driver.chromium.launch_persistent_context(
            profile, executable_path=shutil.which("chromium"), headless=True, args=FLAGS,
            viewport={"width": 1500, "height": 1000})
        page = browser.new_page()
        page.goto(server_url(server) + "?" + urlencode(VIEW))
        settled = ("() => document.getElementById('message').className !== 'busy' && "
                   "document.querySelectorAll('#probs tbody tr').length === 5 && "
                   "document.getElementById('goals').textContent !== ''")
        page.wait_for_function(settled, timeout=300_000)
        page.wait_for_function("() => document.getElementById('inside-channel').options.length > 1",
                               timeout=300_000)
        page.select_option("#inside-channel", index=1)  # the best-ranked channel
        page.wait_for_function("() => document.getElementById('inside-caption').textContent "
                               "!== ''", timeout=300_000)
        page.wait_for_function(settled, timeout=300_000)
        page.wait_for_timeout(500)
        page.screenshot(path=args.out, full_page=True)
        browser.close()
    server.shutdown()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
