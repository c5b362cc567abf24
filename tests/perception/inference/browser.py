"""Open a page in headless Chromium over the DevTools protocol: screenshot, page height, images, console.

Chromium is Debian's ``chromium`` package; :func:`chromium_or_skip` installs it with apt-get when
it is missing and the tests run as root, and skips the test (with the reason) where that fails.
The protocol is spoken with ``websockets`` (a dev dependency): the browser is started with
``--remote-debugging-port=0`` and writes the port it chose to ``DevToolsActivePort``.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--hide-scrollbars", "--mute-audio")
#: What the page reports about itself once loaded.
PROBE = """JSON.stringify({
  height: document.documentElement.scrollHeight,
  width: document.documentElement.scrollWidth,
  images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete,
    natural: [i.naturalWidth, i.naturalHeight], shown: [i.clientWidth, i.clientHeight],
    external: !i.src.startsWith('data:')})),
  external: Array.from(document.querySelectorAll('[src],link[href]')).map(e => e.src || e.href)
    .filter(u => u && !u.startsWith('data:')),
  text: document.body.innerText.length,
})"""


def find_chromium() -> str | None:
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_or_skip() -> str:
    """The Chromium executable; installed with apt-get when missing (as root), else the test skips."""
    path = find_chromium()
    if path:
        return path
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("headless Chromium is not installed and cannot be installed here "
                    "(needs root and apt-get: apt-get install chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "install", "-y", "-q", "chromium"], ["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "chromium"]):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
        if command[1] == "install" and result.returncode == 0:
            break
    path = find_chromium()
    if path is None:
        pytest.skip(f"headless Chromium could not be installed with apt-get: {result.stderr.strip()[-300:]}")
    return path


@dataclass
class PageReport:
    """What the browser saw: the page's own report (:data:`PROBE`), console and exception messages."""

    height: int
    width: int
    images: list[dict]
    external: list[str]
    text: int
    errors: list[str] = field(default_factory=list)


class _Cdp:
    """A minimal DevTools protocol client on one page target."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(url, max_size=None, open_timeout=30)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, timeout: float = 60.0, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            self.events.append(json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))))

    def close(self) -> None:
        self.ws.close()


def _errors(events: list[dict]) -> list[str]:
    out = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            out.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            out.append(params["entry"].get("text", ""))
    return out


def render(page: Path, screenshot: Path, width: int = 1280, height: int = 4000,
           browser: str | None = None) -> PageReport:
    """Load ``page`` (a file) in headless Chromium, save a full-page PNG to ``screenshot`` and report.

    The screenshot is ``width`` wide and as tall as the page (at most 16384 px; ``height`` is the
    window height).
    """
    browser = browser or chromium_or_skip()
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
    process = subprocess.Popen([browser, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                                f"--window-size={width},{height}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{browser} did not start its DevTools server")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30).read())
        target = next(t for t in targets if t.get("type") == "page")
        cdp = _Cdp(target["webSocketDebuggerUrl"])
        try:
            for domain in ("Page", "Runtime", "Log"):
                cdp.call(f"{domain}.enable")
            cdp.call("Page.navigate", url=page.resolve().as_uri())
            cdp.wait_for("Page.loadEventFired")
            cdp.call("Runtime.evaluate", expression="Promise.all(Array.from(document.images).map(i => i.decode()"
                                                    ".catch(() => null)))", awaitPromise=True)
            probe = json.loads(cdp.call("Runtime.evaluate", expression=PROBE, returnByValue=True)["result"]["value"])
            full = min(int(probe["height"]), 16384)
            shot = cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                            clip={"x": 0, "y": 0, "width": width, "height": full, "scale": 1})
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            return PageReport(**probe, errors=_errors(cdp.events))
        finally:
            cdp.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)
