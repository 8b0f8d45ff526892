"""Every lab's /docs and /redoc load their assets from the API itself, never from a CDN,
and render the API's operations in a real (headless) browser.

The FastAPI labs (01, 02, 04) use queuelabs.offline_docs; lab 03 (Django) uses
drf-spectacular's sidecar. One Chromium serves the whole module: each page is a
tab, read through the DevTools protocol as soon as it has rendered (no fixed wait).
"""

import re

import httpx
import pytest

from queuelabs.labs import find_lab

# Each lab, and one operation its docs must show once rendered.
LABS = [("01", "/ping"), ("02", "/api/async/process"), ("03", "/api/async/process"), ("04", "/api/async/process")]
# drf-spectacular's ReDoc template (lab 03) links Google's web fonts. They only change the
# typeface: offline the browser falls back to its own (the browser test below has no network).
WEB_FONTS = ("https://fonts.googleapis.com", "https://fonts.gstatic.com")


@pytest.fixture(scope="module")
def lab_api(run_solution_for_module):
    """lab_api("02") -> the base URL of that lab's reference API, started once for the module."""
    started: dict[str, str] = {}

    def base(lab_id: str) -> str:
        if lab_id not in started:
            process = find_lab(lab_id).api_process
            started[lab_id] = run_solution_for_module(lab_id, process)[process].url
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


@pytest.mark.parametrize("lab_id, operation", LABS)
def test_docs_render_the_operations_in_a_real_browser(lab_api, chromium, lab_id, operation):
    base = lab_api(lab_id)
    # Swagger UI draws one "opblock" per operation; ReDoc writes each path into its page.
    swagger = chromium.rendered(f"{base}/docs", until="opblock-summary-path")
    assert operation in swagger, f"lab {lab_id}: Swagger UI did not render {operation}"
    redoc = chromium.rendered(f"{base}/redoc", until=operation)
    assert "redoc" in redoc.lower(), f"lab {lab_id}: ReDoc did not render"
