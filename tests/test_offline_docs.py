"""Every FastAPI lab's /docs and /redoc load their assets from the API itself, never from a CDN."""

import re
import shutil
import subprocess

import httpx
import pytest

from queuelabs.native import apt_install


@pytest.mark.parametrize("lab_id, process", [("01", "app")])
def test_docs_pages_use_only_local_assets(run_solution, lab_id, process):
    base = run_solution(lab_id, process)[process].url
    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{base}{page}", timeout=10).text
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(r"url: ?'([^']+)'", html)
        external = [a for a in assets if a.startswith(("http://", "https://", "//"))]
        assert not external, f"{page} loads {external} from the internet"
        scripts = [a for a in assets if a.endswith(".js")]
        assert scripts, f"{page} loads no script: {html[:300]}"
        for asset in scripts:
            assert httpx.get(f"{base}{asset}", timeout=10).status_code == 200, asset


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium, installed by the project when missing (like RabbitMQ and Redis)."""
    if not shutil.which("chromium"):
        apt_install(["chromium"], then="run the tests again")
    return shutil.which("chromium")


def rendered(chromium: str, url: str) -> str:
    """The page's DOM after its scripts ran (headless, no network beyond loopback needed)."""
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000", "--dump-dom", url]
    return subprocess.run(argv, capture_output=True, text=True, timeout=90).stdout


@pytest.mark.parametrize("lab_id, process", [("01", "app")])
def test_docs_render_the_operations_in_a_real_browser(run_solution, chromium, lab_id, process):
    base = run_solution(lab_id, process)[process].url
    swagger = rendered(chromium, f"{base}/docs")
    assert "opblock" in swagger and "/ping" in swagger, "Swagger UI did not render the operations"
    redoc = rendered(chromium, f"{base}/redoc")
    assert "/ping" in redoc and "redoc" in redoc.lower(), "ReDoc did not render the operations"
