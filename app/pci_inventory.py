"""The payment-page script inventory (PCI DSS 6.4.3 and 11.6.1).

docs/pci-script-inventory.json lists, for every page of ours that a buyer pays on, each script
the browser loads (why it is there and its SHA-384) and the security headers the page must carry.
The same hashes go into the pages' `integrity` attributes (SRI), computed once at startup from
the files served, so a script changed on disk after review no longer runs and fails the
inventory test and `flask pci inventory` until someone reviews it and updates the file.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

INVENTORY_PATH = Path(__file__).resolve().parent.parent / "docs" / "pci-script-inventory.json"
STATIC_PREFIX = "/static/"
# A PSP's versioned script (its card fields library): listed as "{psp_origin}/<path>" since each
# PSP instance serves it from its own origin; its reviewed SRI hash is in "integrity".
PSP_PREFIX = "{psp_origin}"


def sri_hash(path: Path) -> str:
    """The Subresource Integrity value of a file: "sha384-<base64 digest>"."""
    digest = hashlib.sha384(path.read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode()


def script_hashes(static_folder: str | Path) -> dict[str, str]:
    """SRI values of every script under static/, by the filename url_for('static') takes."""
    root = Path(static_folder)
    return {path.relative_to(root).as_posix(): sri_hash(path)
            for path in sorted(root.rglob("*.js"))}


def load_committed(path: Path = INVENTORY_PATH) -> dict:
    """The reviewed inventory as committed."""
    return json.loads(path.read_text())


def live_inventory(committed: dict, static_folder: str | Path) -> dict:
    """The committed inventory with each script's hash taken from the file served now."""
    hashes = script_hashes(static_folder)
    live = copy.deepcopy(committed)
    for page in live["pages"]:
        for script in page["scripts"]:
            if script.get("src", "").startswith(STATIC_PREFIX):
                script["sha384"] = hashes.get(script["src"][len(STATIC_PREFIX):], "missing")
    return live


def hash_differences(committed: dict, live: dict) -> list[str]:
    """One line per script whose file no longer has the reviewed hash."""
    problems = []
    for old_page, new_page in zip(committed["pages"], live["pages"]):
        for old, new in zip(old_page["scripts"], new_page["scripts"]):
            if "src" in old and old.get("sha384") != new.get("sha384"):
                problems.append(f"{old_page['path']}: {old['src']} is {new['sha384']}, "
                                f"reviewed {old['sha384']}")
    return problems


def pinned_integrity(script_url: str, path: Path = INVENTORY_PATH) -> str | None:
    """The reviewed SRI hash of a PSP's versioned script, found by its path on the PSP's
    origin; None when no payment page lists it (so an unreviewed script is never loaded)."""
    wanted = urlsplit(script_url).path
    for page in load_committed(path)["pages"]:
        for script in page["scripts"]:
            src = script.get("src", "")
            if src.startswith(PSP_PREFIX) and src[len(PSP_PREFIX):] == wanted:
                return script.get("integrity")
    return None


def psp_scripts(committed: dict) -> dict[str, str]:
    """Each PSP versioned script's path on the PSP's origin → its reviewed SRI hash."""
    return {script["src"][len(PSP_PREFIX):]: script.get("integrity", "")
            for page in committed["pages"] for script in page["scripts"]
            if script.get("src", "").startswith(PSP_PREFIX)}


def psp_script_differences(committed: dict, script_urls, fetch) -> list[str]:
    """One line per PSP script (by its URL on a configured PSP) whose served bytes no longer
    have the reviewed hash, or that is not in the inventory, or could not be fetched
    (`fetch(url)` returns the bytes or raises OSError): PCI DSS 11.6.1 for the one script on
    our payment pages that we do not serve ourselves."""
    reviewed, problems = psp_scripts(committed), []
    for url in script_urls:
        expected = reviewed.get(urlsplit(url).path)
        if expected is None:
            problems.append(f"{url}: a PSP script not in the inventory")
            continue
        try:
            body = fetch(url)
        except OSError as exc:
            problems.append(f"{url}: could not be fetched ({exc})")
            continue
        served = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
        if served != expected:
            problems.append(f"{url} is {served}, reviewed {expected}")
    return problems


def required_csp(page: dict, psp_origin: str, script_origin: str = "") -> set[str]:
    """The page's required CSP directives, with the PSP origin(s) it frames and the origin of
    a PSP script it loads (Stripe's Payment Element page) filled in."""
    return {d.replace("{psp_origin}", psp_origin).replace("{script_origin}", script_origin)
            for d in page["headers"]["Content-Security-Policy"]}


class _ScriptTags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(dict(attrs))


def scripts_on(html: str) -> list[dict]:
    """The attributes of every <script> tag of a rendered page, in order."""
    parser = _ScriptTags()
    parser.feed(html)
    return parser.scripts
