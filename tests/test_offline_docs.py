"""Every FastAPI lab's /docs and /redoc load their assets from the API itself, never from a CDN."""

import re

import httpx
import pytest


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
