"""The sandbox's OAuth authorisation page as a person uses it: open it, read the code it shows."""

from __future__ import annotations

import re

import requests

CODE_RE = re.compile(r'class="oauth-code" readonly type="text" value="([^"]+)"')


def code_from_page(url: str) -> str:
    """Fetch the authorisation page over plain HTTP and read the code it shows."""
    page = requests.get(url, timeout=5)
    assert page.status_code == 200, page.text
    match = CODE_RE.search(page.text)
    assert match is not None, page.text
    return match.group(1)
