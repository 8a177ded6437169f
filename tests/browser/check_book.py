"""Check the built HTML book as a reader sees it: ``python tests/browser/check_book.py [_build/html]``.

Without a browser (always): every internal link and anchor resolves; every ``<img>`` file exists and
no page shows the same picture twice (same file or same bytes); every page with math loads MathJax
from the book's own ``_static`` and nothing (script, stylesheet, image) from the network; every
executed chapter offers its ``.ipynb``, with outputs, for download. In the text a reader gets (the
prose and cell outputs in ``<main>``; code cell inputs and scripts left out):

* no raw Markdown table: a line of ``|``-separated cells followed by a delimiter line such as
  ``|---|---|`` means a table was printed as its source (e.g. a ``text/plain`` output, or a
  ``{glue:md}`` without ``:format: myst``) instead of rendered;
* no over-precise number: a decimal (a number with a decimal point, optionally with an exponent)
  with :data:`MAX_DIGITS` or more significant digits (leading zeros do not count, trailing zeros
  after the point do: ``1.000000000000``, ``3.0000000000`` and ``0.12345678`` fail, ``0.0001234``
  and ``1.2345e-07`` pass). Integers never fail (years, citation and equation numbers, counts
  such as 2061), nor does a decimal glued to an identifier (``arXiv:2402.13728``, ``v1.26.4``,
  ``pnas.2015509117``: preceded by a letter, digit, ``.``, ``:`` or ``/``, or with a second point).

In headless Chromium (when installed; ``DNC_REQUIRE_BROWSER=1`` makes its absence an error), served
from a localhost ``http.server`` with the network otherwise unused, each page loaded once in a 1280
px wide window: every page loads; MathJax typesets every formula without an error or an undefined
macro; no raw TeX delimiters are left in the text; every image has loaded; no request leaves
localhost; the console has no error. Then the layout, at each width of :data:`WIDTHS` (1280 px, a
desktop; 768 px, a tablet in portrait: the same page, the window resized and the layout left to
settle before it is measured):

* no display equation is wider than its column (it would be cut off, or scroll within itself);
* no figure is drawn more than :data:`MAX_IMAGE_SCALE` × as wide as it is shown (its
  ``naturalWidth`` against its displayed width: a wider PNG is shrunk, and its text with it, below
  reading size);
* the page does not scroll sideways: the document is no wider than the window less its vertical
  scrollbar (``scrollWidth`` against ``clientWidth`` of ``<html>``); the failure names the
  elements that stick out. A wide table or equation that scrolls within its own box is fine here.

A figure or equation that fails at several widths is one failure, its message giving each width.
Prints one summary line and exits non-zero on any failure.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

MATHJAX = "_static/mathjax/tex-chtml.js"
MAX_IMAGE_SCALE = 1.5  # a figure's PNG may be at most this many times as wide as it is shown
# Window widths (px) at which the layout is checked: a desktop, and a tablet in portrait. The first
# is the one each page is loaded at.
WIDTHS = (1280, 768)
WINDOW_HEIGHT = 900
MAX_DIGITS = 8  # a decimal with this many significant digits or more is over-precise
# A header row of |-separated cells, then a delimiter row: |---|---| (colons for alignment allowed).
RAW_TABLE = re.compile(r"\|[^\n]*\|[ \t]*\n[ \t]*\|(?:[ \t]*:?-{3,}:?[ \t]*\|)+")
# A run of digits and points, with an optional exponent, not glued to an identifier before it.
NUMBER = re.compile(r"(?<![\w.:/])\d[\d.]*(?:[eE][-+−]?\d+)?")
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads"}
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    f"--window-size={WIDTHS[0]},{WINDOW_HEIGHT}",
)


class Page(HTMLParser):
    """What the checks need from one HTML file: links, ids, images, scripts, stylesheets."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.ids, self.images, self.scripts, self.styles = [], set(), [], [], []
        self.has_math = self.shows_outputs = False
        self.notebook_link = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
            if "download-notebook-button" in (a.get("class") or ""):
                self.notebook_link = a["href"]
        elif tag == "img" and a.get("src") is not None:
            self.images.append(a["src"])
        elif tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        elif tag == "link" and a.get("href") and "stylesheet" in (a.get("rel") or ""):
            self.styles.append(a["href"])
        classes = (a.get("class") or "").split()
        if "math" in classes:
            self.has_math = True
        if "cell_output" in classes:
            self.shows_outputs = True


class ReaderText(HTMLParser):
    """The page's text as a reader gets it (in ``<main>``): prose and cell outputs, no code inputs.

    ``prose`` is one string, ``outputs`` one string per cell output block.
    """

    SKIP_TAGS = {"script", "style", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.prose_parts, self.outputs = [], []
        self._article = self._skip = self._output = None  # [tag, depth] while inside one

    @staticmethod
    def _enter(state, tag):
        if state is not None and state[0] == tag:
            state[1] += 1

    @staticmethod
    def _leave(state, tag):
        """The state after an end tag: None once the element it tracks has closed."""
        if state is not None and state[0] == tag:
            state[1] -= 1
            if state[1] == 0:
                return None
        return state

    def handle_starttag(self, tag, attrs):
        for state in (self._article, self._skip, self._output):
            self._enter(state, tag)
        classes = (dict(attrs).get("class") or "").split()
        if self._article is None:
            if tag == "main":
                self._article = [tag, 1]
            return
        if self._skip is None:
            code = "cell_input" in classes or (
                any(c.startswith("highlight-") for c in classes) and "output" not in classes
            )
            if tag in self.SKIP_TAGS or code:
                self._skip = [tag, 1]
            elif self._output is None and "cell_output" in classes:
                self._output = [tag, 1]
                self.outputs.append("")

    def handle_endtag(self, tag):
        self._skip = self._leave(self._skip, tag)
        self._output = self._leave(self._output, tag)
        self._article = self._leave(self._article, tag)

    def handle_data(self, data):
        if self._article is None or self._skip is not None:
            return
        if self._output is not None:
            self.outputs[-1] += data
        else:
            self.prose_parts.append(data)

    @property
    def prose(self) -> str:
        return "".join(self.prose_parts)


def significant_digits(number: str) -> int:
    """Significant digits of a decimal's mantissa: leading zeros left out, trailing ones kept."""
    mantissa = re.split(r"[eE]", number)[0]
    return len(mantissa.replace(".", "").lstrip("0"))


def text_failures(name, html: str) -> list[str]:
    """Raw Markdown tables and over-precise decimals in the text of one page (see the docstring)."""
    reader = ReaderText()
    reader.feed(html)
    failures = []
    for where, text in [("the prose", reader.prose)] + [
        ("a cell output", o) for o in reader.outputs
    ]:
        table = RAW_TABLE.search(text)
        if table:
            failures.append(f"{name}: a raw Markdown table in {where}: {table.group(0)[:80]!r}")
    seen = set()
    for text in [reader.prose, *reader.outputs]:
        for m in NUMBER.finditer(text):
            number = m.group(0).removesuffix(".")  # a point ending the sentence
            if number.count(".") != 1 or number in seen:
                continue  # an integer, a version (1.26.4), or seen already
            digits = significant_digits(number)
            if digits >= MAX_DIGITS:
                seen.add(number)
                context = " ".join(text[max(0, m.start() - 40) : m.end() + 20].split())
                failures.append(
                    f"{name}: {number} has {digits} significant digits (at most"
                    f" {MAX_DIGITS - 1}): ...{context}..."
                )
    return failures


def is_external(url: str) -> bool:
    return bool(re.match(r"^([a-z][a-z0-9+.-]*:|//)", url, flags=re.I))


def local_target(page: Path, url: str) -> tuple[Path, str]:
    """The file and fragment a relative URL of ``page`` points to."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    target = page if not path else (page.parent / path).resolve()
    if target.is_dir():
        target = target / "index.html"
    return target, unquote(parts.fragment)


def static_checks(site: Path, pages: list[Path]) -> tuple[list[str], dict]:
    """The checks that need no browser; returns (failures, counts)."""
    failures, parsed = [], {}
    for path in pages:
        parser = Page()
        parser.feed(path.read_text(encoding="utf-8"))
        parsed[path.resolve()] = parser
    executed = site.parent / "jupyter_execute"
    n_images = n_links = 0
    for path, page in parsed.items():
        name = path.relative_to(site.resolve())
        # A library's own warning printed into a chapter (e.g. tqdm's about ipywidgets) is noise
        # for the reader: a stderr block that names a site-packages file fails the page.
        html = path.read_text(encoding="utf-8")
        for block in re.findall(r'class="output stderr.*?</pre>', html, flags=re.S):
            if "site-packages" in block:
                failures.append(f"{name}: a library warning is printed into the page")
                break
        failures += text_failures(name, html)
        for href in page.links:
            if is_external(href) or href.startswith("#") and not href[1:]:
                continue
            n_links += 1
            target, fragment = local_target(path, href)
            if not target.exists():
                failures.append(f"{name}: link {href!r} points to a missing file")
            elif fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else None
                if ids is not None and fragment not in ids:
                    failures.append(f"{name}: link {href!r}: no id {fragment!r} in {target.name}")
        seen_files, seen_bytes = {}, {}
        for src in page.images:
            if is_external(src) and not src.startswith("data:"):
                failures.append(f"{name}: image {src!r} comes from the network")
                continue
            if src.startswith("data:"):
                continue
            n_images += 1
            target, _ = local_target(path, src)
            if not target.is_file():
                failures.append(f"{name}: image {src!r} does not exist")
                continue
            digest = hashlib.sha256(target.read_bytes()).hexdigest()
            if target in seen_files or digest in seen_bytes:
                failures.append(
                    f"{name}: image {src!r} appears twice (as {seen_files.get(target) or seen_bytes[digest]!r})"
                )
            seen_files[target], seen_bytes[digest] = src, src
        for url in page.scripts + page.styles:
            if is_external(url):
                failures.append(f"{name}: loads {url!r} from the network")
        mathjax = [s for s in page.scripts if "mathjax" in s.lower()]
        if page.has_math:
            if not mathjax:
                failures.append(f"{name}: has math but loads no MathJax")
            for src in mathjax:
                target, _ = local_target(path, src)
                if not str(target).endswith(MATHJAX) or not target.is_file():
                    failures.append(f"{name}: MathJax {src!r} is not the book's own {MATHJAX}")
        docname = name.with_suffix("")
        if (executed / f"{docname}.ipynb").exists():
            if page.notebook_link is None:
                failures.append(f"{name}: executed notebook, but no .ipynb download")
            else:
                target, _ = local_target(path, page.notebook_link)
                if not target.is_file():
                    failures.append(f"{name}: .ipynb download {page.notebook_link!r} is missing")
                else:
                    notebook = json.loads(target.read_text(encoding="utf-8"))
                    if page.shows_outputs and not any(c.get("outputs") for c in notebook["cells"]):
                        failures.append(f"{name}: the page shows outputs, its .ipynb has none")
    return failures, {"links": n_links, "images": n_images}


# Runs in the page once it has loaded: waits for MathJax and the images, then reports what a reader
# would see that does not depend on the window's width.
PAGE_REPORT = r"""
const done = arguments[arguments.length - 1];
(async () => {
  const report = {formulas: 0, math_errors: [], raw_tex: [], images: 0, broken_images: [], mathjax: null};
  const wantsMath = [...document.scripts].some(s => /mathjax/i.test(s.src));
  if (wantsMath) {
    const t0 = Date.now();
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() - t0 < 20000) {
      await new Promise(r => setTimeout(r, 50));
    }
    if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
      report.mathjax = "MathJax did not start";
    } else {
      try { await MathJax.startup.promise; report.mathjax = "ok"; }
      catch (e) { report.mathjax = "MathJax failed: " + e; }
      for (const item of MathJax.startup.document.math) {
        report.formulas += 1;
        const mml = MathJax.startup.toMML(item.root);
        if (mml.includes("<merror") || /mathcolor="red"/.test(mml)) {
          report.math_errors.push(item.math.slice(0, 120));
        }
      }
    }
  }
  const main = document.querySelector("main") || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll("pre, code, script, style, mjx-container, .highlight, .MathJax")
      .forEach(n => n.remove());
  const text = copy.textContent;
  const patterns = [/\\\(/, /\\\[/, /\$\$/, /\\begin\{/, /\$[^$\n]*\\[A-Za-z]+[^$\n]*\$/];
  for (const p of patterns) {
    const m = text.match(p);
    if (m) {
      const i = m.index;
      report.raw_tex.push(text.slice(Math.max(0, i - 40), i + 60).replace(/\s+/g, " "));
    }
  }
  for (const img of main.querySelectorAll("img")) {
    report.images += 1;
    if (!img.complete) await new Promise(r => { img.onload = img.onerror = r; setTimeout(r, 5000); });
    if (!(img.complete && img.naturalWidth > 0)) report.broken_images.push(img.getAttribute("src"));
  }
  done(report);
})();
"""

# Runs after PAGE_REPORT, once per width of WIDTHS (arguments[0]) after the window was resized to
# it: waits for the layout to settle, then measures equations, figures and the page's own width.
LAYOUT_REPORT = r"""
const width = arguments[0], done = arguments[arguments.length - 1];
const MAX_IMAGE_SCALE = @MAX_IMAGE_SCALE@;
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const frame = () => new Promise(r => { requestAnimationFrame(() => r()); setTimeout(r, 100); });
  const root = document.documentElement;
  const main = document.querySelector("main") || document.body;
  const t0 = Date.now();
  while (window.innerWidth !== width && Date.now() - t0 < 5000) await sleep(20);
  // The resize reflows the page and may start the theme's transitions (its sidebars slide): wait
  // for those to end, then for the page to measure the same in two frames in a row.
  let last = "", same = 0;
  while (same < 2 && Date.now() - t0 < 10000) {
    await frame();
    const running = document.getAnimations().filter(a => a.playState === "running" &&
        a.effect && isFinite(a.effect.getComputedTiming().endTime));
    if (running.length) {
      await Promise.race([Promise.all(running.map(a => a.finished.catch(() => null))), sleep(2000)]);
    }
    const state = [window.innerWidth, root.clientWidth, root.scrollWidth, root.scrollHeight,
                   main.getBoundingClientRect().width].join();
    same = state === last ? same + 1 : 0;
    last = state;
  }
  const report = {width: window.innerWidth, wide_math: [], wide_images: [], overflow: null};
  // A display equation wider than its column is cut off or scrolls at this window width.
  const tex = new Map();
  if (window.MathJax && MathJax.startup && MathJax.startup.document) {
    for (const item of MathJax.startup.document.math) tex.set(item.typesetRoot, item.math);
  }
  const short = t => (t || "").replace(/\s+/g, " ").trim().slice(0, 80);
  [...document.querySelectorAll('mjx-container[display="true"]')].forEach((c, i) => {
    const math = c.querySelector("mjx-math");
    const w = math ? math.getBoundingClientRect().width : 0;
    if (w > c.clientWidth + 1) {
      report.wide_math.push({key: i, width: Math.round(w), column: c.clientWidth,
                             tex: short(tex.get(c) || c.textContent)});
    }
  });
  // A figure drawn much wider than it is shown is shrunk, its text with it, below reading size.
  for (const img of main.querySelectorAll("img")) {
    if (!(img.complete && img.naturalWidth > 0)) continue;  // PAGE_REPORT reports it
    const shown = img.getBoundingClientRect().width;
    if (shown > 0 && img.naturalWidth > MAX_IMAGE_SCALE * shown) {
      const figure = img.closest("figure");
      const number = figure && figure.querySelector(".caption-number");
      const src = img.getAttribute("src");
      report.wide_images.push({key: src, natural: img.naturalWidth, shown: Math.round(shown),
                               label: number ? number.textContent.trim() : src.split("/").pop()});
    }
  }
  // The page scrolls sideways: name the outermost elements that stick out past the window's right
  // edge, leaving out those inside a box that clips or scrolls them (e.g. a table in its scrollable
  // container; the box is named itself if it sticks out) and those fixed to the window.
  if (root.scrollWidth > root.clientWidth) {
    const limit = root.clientWidth + 0.5, out = new Set();
    for (const el of document.body.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (!(r.width > 0 && r.right + window.scrollX > limit)) continue;
      let contained = getComputedStyle(el).position === "fixed";
      for (let a = el.parentElement; a && a !== document.body && !contained; a = a.parentElement) {
        const style = getComputedStyle(a);
        contained = style.position === "fixed" || style.overflowX !== "visible";
      }
      if (!contained) out.add(el);
    }
    const outermost = [...out].filter(el => {
      for (let a = el.parentElement; a; a = a.parentElement) if (out.has(a)) return false;
      return true;
    });
    report.overflow = {content: root.scrollWidth, window: root.clientWidth, sticking: outermost.slice(0, 3).map(el => {
      const container = el.closest("mjx-container");
      const what = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
          [...el.classList].slice(0, 2).map(c => "." + c).join("");
      const text = short(container ? tex.get(container) : el.textContent).slice(0, 50);
      return `${what} to ${Math.round(el.getBoundingClientRect().right + window.scrollX)} px` +
             (text ? ` (${JSON.stringify(text)})` : "");
    }), more: Math.max(0, outermost.length - 3)};
  }
  done(report);
})();
""".replace("@MAX_IMAGE_SCALE@", str(MAX_IMAGE_SCALE))


def find_browser() -> tuple[str | None, str | None]:
    browser = next(
        (
            shutil.which(n)
            for n in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(n)
        ),
        None,
    )
    return browser, shutil.which("chromedriver")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def layout_failures(driver, name: str) -> list[str]:
    """The layout checks at each width of :data:`WIDTHS`, the page already loaded and typeset.

    An equation or figure that fails at several widths is one failure that lists them.
    """
    # (kind, key) -> (text before, text after, [what it measures at each width it fails at])
    failures, wide = [], {}
    for width in WIDTHS:
        if driver.get_window_size()["width"] != width:
            driver.set_window_size(width, WINDOW_HEIGHT)
        report = driver.execute_async_script(LAYOUT_REPORT, width)
        if report["width"] != width:
            failures.append(f"{name}: the window is {report['width']} px wide, not {width} px")
            continue
        for m in report["wide_math"]:
            detail = f"at {width} px: {m['width']} px in a {m['column']} px column"
            entry = ("equation wider than its column (", f"): {m['tex']}", [])
            wide.setdefault(("math", m["key"]), entry)[2].append(detail)
        for i in report["wide_images"]:
            head = (
                f"figure drawn wider than {MAX_IMAGE_SCALE} × its display: {i['label']} is"
                f" {i['natural']} px wide, shown at "
            )
            detail = f"{i['shown']} px in a {width} px window"
            wide.setdefault(("image", i["key"]), (head, "", []))[2].append(detail)
        if report["overflow"]:
            o = report["overflow"]
            more = f" and {o['more']} more" if o["more"] else ""
            failures.append(
                f"{name}: at {width} px the page scrolls sideways: {o['content']} px of content in"
                f" {o['window']} px; sticking out: {'; '.join(o['sticking']) or '?'}{more}"
            )
    failures += [f"{name}: {head}{'; '.join(d)}{tail}" for head, tail, d in wide.values()]
    return failures


def browser_checks(site: Path, pages: list[Path]) -> tuple[list[str], dict]:
    """Open every page in headless Chromium; returns (failures, counts)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = find_browser()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    profile = tempfile.mkdtemp(prefix="dnc-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS + (f"--user-data-dir={profile}",):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_script_timeout(60)
    driver.set_page_load_timeout(60)
    failures, counts = [], {"formulas": 0, "images": 0}
    try:
        for path in pages:
            name = str(path.relative_to(site))
            if driver.get_window_size()["width"] != WIDTHS[0]:
                driver.set_window_size(WIDTHS[0], WINDOW_HEIGHT)
            driver.get(base + name)
            deadline = time.time() + 30  # index.html redirects: wait for the page it lands on
            while driver.execute_script("return document.readyState") != "complete":
                if time.time() > deadline:
                    failures.append(f"{name}: did not finish loading")
                    break
                time.sleep(0.05)
            report = driver.execute_async_script(PAGE_REPORT)
            counts["formulas"] += report["formulas"]
            counts["images"] += report["images"]
            if report["mathjax"] not in (None, "ok"):
                failures.append(f"{name}: {report['mathjax']}")
            failures += [f"{name}: MathJax error in {m!r}" for m in report["math_errors"]]
            failures += [f"{name}: raw TeX left in the text: ...{t}..." for t in report["raw_tex"]]
            failures += [f"{name}: image {s!r} did not load" for s in report["broken_images"]]
            failures += layout_failures(driver, name)
            for entry in driver.get_log("performance"):
                message = json.loads(entry["message"])["message"]
                if message["method"] == "Network.requestWillBeSent":
                    url = message["params"]["request"]["url"]
                    if re.match(r"^(https?|wss?|ftp):", url) and not url.startswith(base):
                        failures.append(f"{name}: requested {url!r} (the network)")
            for entry in driver.get_log("browser"):
                if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]:
                    failures.append(f"{name}: console error: {entry['message'][:200]}")
    finally:
        driver.quit()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    return failures, counts


def main(argv: list[str]) -> int:
    site = Path(argv[1] if len(argv) > 1 else "_build/html").resolve()
    if not (site / "index.html").exists():
        print(f"check_book: no built book at {site} (build it first: make book-quick)")
        return 1
    pages = sorted(
        p for p in site.rglob("*.html") if not SKIP_DIRS & set(p.relative_to(site).parts)
    )
    start = time.time()
    failures, counts = static_checks(site, pages)
    browser, driver_path = find_browser()
    summary = f"{len(pages)} pages, {counts['links']} internal links, {counts['images']} images"
    if browser and driver_path:
        more, seen = browser_checks(site, pages)
        failures += more
        summary += f"; in Chromium: {len(pages)} pages, {seen['images']} figures, {seen['formulas']} formulas"
    elif os.environ.get("DNC_REQUIRE_BROWSER") == "1":
        failures.append("no chromium/chromedriver (apt-get install chromium chromium-driver)")
    else:
        summary += "; Chromium not installed, browser checks SKIPPED"
    for failure in failures:
        print(f"FAIL {failure}")
    verdict = "passed" if not failures else f"{len(failures)} failures"
    print(f"check_book: {summary} checked in {time.time() - start:.1f} s: {verdict}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
