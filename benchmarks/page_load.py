"""Load every page of the built site offline in headless Chromium and print the times.

A benchmark, not a test (the goal: every page under 0.5 s). Build the site first
(``make book``), then::

    python benchmarks/page_load.py [--repeat 21]

The time is from navigation start until the page's load event has fired (and
MathJax has finished, if a page still runs it), served from 127.0.0.1, with a
cold cache each time. Each page's loads are interleaved (:mod:`paired`) with
runs of a gauge: a fixed script (``GAUGE``, twenty million square roots, about
30 ms) run in a tab that stays open in the same browser, which reads how fast
the machine is at that moment. The ratio load/gauge, the median of the paired
ratios with their interquartile range, is the page's cost in units of the
machine's speed: a change in load between two runs moves both halves of a pair.
Also prints the site's total size.

Why a gauge and not an empty page: a page's cold load varies by 15-25% from one
load to the next even on a quiet machine (the browser's processes share two
cores, and how often the parser stops to lay out depends on timing), an empty
page's 40 ms by 25-45%, the gauge's by 3-5%. With an empty page as the
reference, two runs of 21 pairs a minute apart (quiet) put 8 of the 19 ratios
more than 10% apart (up to 23%), though only 2 of the 19 median times. With the
gauge, two such runs: 13 of the 19 ratios within 10%, the other six 10-13%
apart; the second run's times were about 7% slower throughout, and the gauge
(one thread of script) took up only part of that. Read a single row as good to
about 15%.

``--baseline OTHER_SITE`` pairs each page with the same page of another build
instead (for example a copy of ``_build/html`` made before a change): the ratio
is then this build over that one. ``--site`` and ``--pages`` choose what is loaded.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import threading
import time
from pathlib import Path

from paired import paired
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


#: Served instead of a file: the page of the tab that runs the gauge.
EMPTY = "__empty__.html"
#: The gauge: fixed work for the JavaScript engine, timed in the page; its seconds (the sum is returned
#: too, so that the loop cannot be dropped as dead code).
GAUGE = ("() => { const t = performance.now(); let x = 0; for (let i = 0; i < 2e7; i++) { x += Math.sqrt(i); } "
         "return [(performance.now() - t) / 1000, x]; }")


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def handle(self):
        # a page's context is closed once it has loaded, sometimes while a lazy figure is still arriving
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        if self.path.lstrip("/") == EMPTY:
            body = b"<!DOCTYPE html><html lang='en'><head><title>empty</title></head><body></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            super().do_GET()


def _serve(folder: Path) -> str:
    """Serve ``folder`` on 127.0.0.1 from a thread of its own; its base URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--site", type=Path, default=SITE, help="the built site (default: _build/html)")
    parser.add_argument("--baseline", type=Path, help="another build: pair each page with its page there")
    parser.add_argument("--pages", help="comma-separated parts of the pages' paths to load (default: all)")
    args = parser.parse_args()
    site = args.site.resolve()
    for name, folder in (("--site", site), ("--baseline", args.baseline)):
        if folder is not None and not (folder / "index.html").is_file():
            raise ValueError(f"{name} must be a built site (a folder with index.html), got {folder}")
    pages = sorted(str(p.relative_to(site)) for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)
    if args.pages:
        pages = [p for p in pages if any(part in p for part in args.pages.split(","))]
    base = _serve(site)
    other = _serve(args.baseline.resolve()) if args.baseline else base
    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    print(f"site size: {size / 1e6:.2f} MB (goal: at most 10 MB)")
    against = "baseline s" if args.baseline else "gauge s"
    print(f"{'page':45s} {'median s':>9s} {against:>10s} {'ratio':>7s}  IQR  ({args.repeat} interleaved pairs, cold cache)")
    worst = 0.0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)

        def load(url):
            context = browser.new_context()
            page = context.new_page()
            start = time.perf_counter()
            page.goto(url, wait_until="load")
            page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
            seconds = time.perf_counter() - start
            context.close()
            return seconds

        gauge_tab = browser.new_context().new_page()
        gauge_tab.goto(base + EMPTY)
        for _ in range(5):  # the JIT compiles the loop in the first runs
            gauge_tab.evaluate(GAUGE)

        def gauge():
            return gauge_tab.evaluate(GAUGE)[0]

        for rel in pages:
            reference = functools.partial(load, other + rel) if args.baseline else gauge
            r = paired(reference, lambda: load(base + rel), pairs=args.repeat, warmup=1)
            worst = max(worst, r.b)
            print(f"{rel:45s} {r.b:9.3f} {r.a:10.3f} {r.ratio:7.2f}  {r.spread()}", flush=True)
        browser.close()
    print(f"slowest page (median load): {worst:.3f} s (goal: at most 0.5 s)")


if __name__ == "__main__":
    main()
