"""Every lab's /docs and /redoc load their assets from the API itself, never from a CDN,
and render the API's operations in a real (headless) browser.

The FastAPI labs (01, 02, 04) use queuelabs.offline_docs; lab 03 (Django) uses
drf-spectacular's sidecar. One Chromium serves the whole module: each page is a
tab, read through the DevTools protocol as soon as it has rendered (no fixed wait).
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from queuelabs.labs import find_lab
from queuelabs.native import apt_install
from queuelabs.processes import kill_group
from queuelabs.waiting import eventually, wait_until

# Each lab, and one operation its docs must show once rendered.
LABS = [("01", "/ping"), ("02", "/api/async/process"), ("03", "/api/async/process"), ("04", "/api/async/process")]
# drf-spectacular's ReDoc template (lab 03) links Google's web fonts. They only change the
# typeface: offline the browser falls back to its own (the browser test below has no network).
WEB_FONTS = ("https://fonts.googleapis.com", "https://fonts.gstatic.com")


@pytest.fixture(scope="module")
def lab_api(run_solution):
    """lab_api("02") -> the base URL of that lab's reference API, started once for the module."""
    started: dict[str, str] = {}

    def base(lab_id: str) -> str:
        if lab_id not in started:
            process = find_lab(lab_id).api_process
            started[lab_id] = run_solution(lab_id, process)[process].url
        return started[lab_id]

    return base


@pytest.mark.parametrize("lab_id, operation", LABS)
def test_docs_pages_use_only_local_assets(lab_api, lab_id, operation):
    base = lab_api(lab_id)
    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{base}{page}", timeout=10).text
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(r"url: ?'([^']+)'", html)
        external = [a for a in assets if a.startswith(("http://", "https://", "//")) and not a.startswith(WEB_FONTS)]
        assert not external, f"lab {lab_id} {page} loads {external} from the internet"
        scripts = [a for a in assets if a.endswith(".js")]
        assert scripts, f"lab {lab_id} {page} loads no script: {html[:300]}"
        for asset in scripts:
            url = asset if asset.startswith("/") else f"{page.rsplit('/', 1)[0]}/{asset}"
            assert httpx.get(f"{base}{url}", timeout=10).status_code == 200, asset


class Browser:
    """One headless Chromium; `rendered(url, until)` opens a tab and returns its DOM once `until` shows."""

    def __init__(self, executable: str, profile: Path):
        argv = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        argv += ["--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"]
        # Its own process group: Chromium's helpers (zygote, renderers, crashpad) go with it.
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = profile / "DevToolsActivePort"
        wait_until(lambda: port_file.exists() and port_file.read_text().strip(), timeout=30, what="Chromium to start")
        self.endpoint = f"http://127.0.0.1:{port_file.read_text().split()[0]}"

    def rendered(self, url: str, until: str, timeout: float = 30) -> str:
        tab = httpx.put(f"{self.endpoint}/json/new?{url}", timeout=10).json()
        try:
            with connect(tab["webSocketDebuggerUrl"], max_size=None) as ws:
                asked = 0

                def dom() -> str | None:
                    nonlocal asked
                    asked += 1
                    expression = "document.documentElement.outerHTML"
                    ws.send(
                        json.dumps({"id": asked, "method": "Runtime.evaluate", "params": {"expression": expression}})
                    )
                    while (answer := json.loads(ws.recv(timeout=10))).get("id") != asked:
                        pass  # an event, not our answer
                    html = answer.get("result", {}).get("result", {}).get("value") or ""
                    return html if until in html else None

                return wait_until(dom, timeout=timeout, interval=0.2, what=f"{url} to render {until}")
        finally:
            httpx.get(f"{self.endpoint}/json/close/{tab['id']}", timeout=10)

    def close(self) -> None:
        """Stop the whole group and wait until none of it is left: a helper still alive
        writes into the profile while it is deleted ("Directory not empty", seen in CI)."""
        kill_group(self.proc.pid)
        self.proc.wait(timeout=10)
        eventually(lambda: not group_alive(self.proc.pid), timeout=15)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, installed by the project when missing (like RabbitMQ and Redis)."""
    if not shutil.which("chromium"):
        apt_install(["chromium"], then="run the tests again")
    # ignore_cleanup_errors: a leftover cache file must not fail the tests that already passed.
    with tempfile.TemporaryDirectory(prefix="queuelabs-chromium-", ignore_cleanup_errors=True) as profile:
        chromium = Browser(shutil.which("chromium"), Path(profile))
        yield chromium
        chromium.close()


@pytest.mark.parametrize("lab_id, operation", LABS)
def test_docs_render_the_operations_in_a_real_browser(lab_api, browser, lab_id, operation):
    base = lab_api(lab_id)
    # Swagger UI draws one "opblock" per operation; ReDoc writes each path into its page.
    swagger = browser.rendered(f"{base}/docs", until="opblock-summary-path")
    assert operation in swagger, f"lab {lab_id}: Swagger UI did not render {operation}"
    redoc = browser.rendered(f"{base}/redoc", until=operation)
    assert "redoc" in redoc.lower(), f"lab {lab_id}: ReDoc did not render"
