"""Load every page of the built site offline in headless Chromium and print the times.

A benchmark, not a test (the goal is under 1 s per page). Build the site first
(``make book``), then::

    python benchmarks/page_load.py [--repeat 3]

The time is from navigation start until the page's load event has fired *and*
MathJax has finished typesetting, served from 127.0.0.1. Also prints the
site's total size.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import statistics
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pages = sorted(str(p.relative_to(SITE)) for p in SITE.rglob("*.html") if "_static" not in p.parts)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(SITE)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    size = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file())
    print(f"site size: {size / 1e6:.2f} MB (goal: at most 10 MB)")
    print(f"{'page':45s} {'median':>8s} {'max':>8s}  (s, {args.repeat} loads, cold cache each)")
    worst = 0.0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        for rel in pages:
            times = []
            for _ in range(args.repeat):
                context = browser.new_context()
                page = context.new_page()
                start = time.perf_counter()
                page.goto(base + rel, wait_until="load")
                page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
                times.append(time.perf_counter() - start)
                context.close()
            worst = max(worst, max(times))
            print(f"{rel:45s} {statistics.median(times):8.3f} {max(times):8.3f}")
        browser.close()
    httpd.shutdown()
    print(f"slowest load: {worst:.3f} s (goal: under 1 s)")


if __name__ == "__main__":
    main()
