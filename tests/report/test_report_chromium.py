"""The HTML report in a real browser: Debian's headless Chromium, driven over the DevTools
protocol (websocket-client). The page must load from file:// with no console error and
no network request, and the 3D viewer's canvas must show the structure (non-blank
pixels, in AlphaFold's pLDDT colours). Screenshots are kept in the test's tmp folder.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from folding.report.index import make_index
from folding.report.target import make_target_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags that work on these machines (no GPU, closed network): WebGL runs on SwiftShader.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--hide-scrollbars",
    "--window-size=1280,1800", "--remote-debugging-port=0",
)
websocket = pytest.importorskip("websocket", reason="websocket-client (test extra) is needed")
Image = pytest.importorskip("PIL.Image")

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")


class Browser:
    """One headless Chromium with one page, spoken to over the DevTools protocol."""

    def __init__(self, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self._stderr = (profile / "chromium.stderr").open("w")
        self.process = subprocess.Popen(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self._stderr,
        )
        self.socket = None
        self._next_id = 0
        self.events: list[dict] = []
        try:
            self._connect(profile)
            for domain in ("Page", "Runtime", "Network", "Log"):
                self.call(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    def _connect(self, profile: Path) -> None:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start; see {profile / 'chromium.stderr'}")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            pages = [t for t in json.load(reply) if t["type"] == "page"]
        self.socket = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)

    def call(self, method: str, **params) -> dict:
        self._next_id += 1
        self.socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"waited {timeout} s for {expression}")

    def screenshot(self, path: Path, clip: dict | None = None):
        params = {"format": "png", "captureBeyondViewport": True}
        if clip:
            params["clip"] = {**clip, "scale": 1}
        data = base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])
        path.write_bytes(data)
        return Image.open(io.BytesIO(data)).convert("RGB")

    def errors(self) -> list[str]:
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(json.dumps(params.get("args"))[:500])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(params["entry"].get("text", "")[:500])
        return found

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def close(self) -> None:
        try:
            if self.socket is not None:
                self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self._stderr.close()


@pytest.fixture
def browser(tmp_path: Path):
    instance = Browser(tmp_path / "chromium-profile")
    try:
        yield instance
    finally:
        instance.close()


def _canvas_pixels(browser: Browser, shot: Path):
    rect = browser.evaluate(
        "(() => { const c = document.querySelector('#viewer canvas');"
        " c.scrollIntoView(); const r = c.getBoundingClientRect();"
        " return {x: r.left + window.scrollX, y: r.top + window.scrollY,"
        " width: r.width, height: r.height}; })()")
    assert rect["width"] > 100 and rect["height"] > 100, rect
    image = browser.screenshot(shot, clip=rect)
    colours = image.getcolors(image.width * image.height)
    background = max(colours)[1]
    drawn = sum(count for count, rgb in colours if rgb != background)
    return image, background, drawn / (image.width * image.height)


def _has_hue(image, target: str, tolerance: int = 40) -> int:
    """Pixels whose colour is a shade of ``target`` (lit or shadowed by 3Dmol)."""
    r0, g0, b0 = (int(target[i:i + 2], 16) for i in (1, 3, 5))
    count = 0
    for n, (r, g, b) in image.getcolors(image.width * image.height):
        peak = max(r, g, b)
        if peak < 40:
            continue
        scale = max(r0, g0, b0) / peak
        if abs(r * scale - r0) + abs(g * scale - g0) + abs(b * scale - b0) < tolerance:
            count += n
    return count


def test_report_renders_in_headless_chromium(target_folder, browser, tmp_path):
    make_target_report(target_folder.path)
    make_index(target_folder.path.parent)
    report = target_folder.path / "report.html"
    started = time.monotonic()
    browser.call("Page.navigate", url=report.as_uri())
    browser.wait_for("document.readyState === 'complete'")
    assert browser.wait_for("document.body.dataset.viewer || ''") == "ready"
    time.sleep(0.5)  # let WebGL finish the frame
    seconds = time.monotonic() - started

    shot = tmp_path / "report_viewer.png"
    image, background, fraction = _canvas_pixels(browser, shot)
    page_shot = tmp_path / "report_page.png"
    browser.screenshot(page_shot)
    print(f"\nreport {report.stat().st_size / 1e6:.2f} MB loaded and drawn in {seconds:.2f} s; "
          f"screenshots: {shot} {page_shot}")
    assert background == (255, 255, 255)
    assert fraction > 0.02, f"viewer canvas is blank ({fraction:.4f} drawn); see {shot}"
    # The top model's pLDDT covers every band: the viewer shows AlphaFold's colours.
    assert _has_hue(image, "#0053D6") > 500, f"no very-high (dark blue) residues drawn; {shot}"
    assert _has_hue(image, "#FF7D45") > 20, f"no very-low (orange) residues drawn; {shot}"

    # The model selector switches the structure.
    last = target_folder.expected_order[-1]
    browser.evaluate("(() => { const s = document.getElementById('model-select');"
                     " s.value = String(s.options.length - 1);"
                     " s.dispatchEvent(new Event('change')); })()")
    assert browser.wait_for("document.body.dataset.model") == last
    _, _, fraction_last = _canvas_pixels(browser, tmp_path / "report_viewer_last.png")
    assert fraction_last > 0.02

    # The plots are shown, decoded from their data URIs.
    widths = browser.evaluate("Array.from(document.querySelectorAll('img.plot'))"
                              ".map(i => i.naturalWidth)")
    assert len(widths) == 3 and min(widths) > 300
    assert browser.evaluate("!!document.getElementById('untrained-banner')")

    assert browser.errors() == []
    requests = browser.requests()
    assert requests[0] == report.as_uri()
    assert [u for u in requests[1:] if not u.startswith("data:")] == []

    # The run's index loads too, and links the report.
    index = target_folder.path.parent / "index.html"
    browser.events.clear()
    browser.call("Page.navigate", url=index.as_uri())
    browser.wait_for("document.readyState === 'complete'")
    href = browser.evaluate("document.querySelector('a').getAttribute('href')")
    assert href == f"{target_folder.name}/report.html"
    browser.screenshot(tmp_path / "index_page.png")
    assert browser.errors() == []
    assert [u for u in browser.requests() if u != index.as_uri()] == []


def test_notebook_view_renders_offline(target_folder, browser, tmp_path):
    """The py3Dmol view of show() loads its embedded 3Dmol.js (data URI) and draws."""
    import folding.report

    make_target_report(target_folder.path)
    page = tmp_path / "notebook_view.html"
    folding.report.show(target_folder.path, width=600, height=450).write_html(str(page))
    browser.call("Page.navigate", url=page.as_uri())
    browser.wait_for("document.readyState === 'complete'")
    browser.wait_for("!!document.querySelector('canvas')")
    time.sleep(1.0)
    rect = browser.evaluate(
        "(() => { const r = document.querySelector('canvas').getBoundingClientRect();"
        " return {x: r.left, y: r.top, width: r.width, height: r.height}; })()")
    shot = tmp_path / "notebook_view.png"
    image = browser.screenshot(shot, clip=rect)
    print(f"\nnotebook view screenshot: {shot}")
    assert _has_hue(image, "#0053D6") > 500, f"nothing drawn in pLDDT colours; see {shot}"
    assert browser.errors() == []
    assert [u for u in browser.requests()[1:] if not u.startswith("data:")] == []
