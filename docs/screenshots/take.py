"""Screenshots of the results dashboards for the docs, from a running demo (`./manage.sh demo`).

Usage: python docs/screenshots/take.py [--url http://127.0.0.1:5000] [--lang zh-TW]

Logs in as the demo's bureau, principal and teacher in Debian's Chromium (Playwright, no browser
download) and saves the top of the city, school and class pages here as results-<page>.png.
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
PAGES = (("city", "bureau", "demo-bureau-2026", "/results/113/city"),
         ("school", "principal", "demo-principal-2026", "/results/113/school/es-017"),
         ("class", "teacher", "demo-teacher-2026", "/results/113/class/es-017-g5-01"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:5000")
    ap.add_argument("--lang", default="zh-TW")
    ap.add_argument("--height", type=int, default=2200, help="CSS pixels of each page to keep")
    args = ap.parse_args()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"], headless=True)
        for name, user, password, path in PAGES:
            context = browser.new_context(viewport={"width": 1200, "height": 900}, locale=args.lang)
            page = context.new_page()
            page.goto(f"{args.url}/login?lang={args.lang}")
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.goto(args.url + path)
            png = page.screenshot(full_page=True)
            image = Image.open(io.BytesIO(png))
            image = image.crop((0, 0, image.width, min(image.height, args.height)))
            # a 256-colour palette keeps the PNG small; the pages are flat colours and text
            image.convert("RGB").quantize(colors=256).save(HERE / f"results-{name}.png", optimize=True)
            print(f"saved {HERE / f'results-{name}.png'}")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
