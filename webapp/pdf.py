"""HTML to PDF with WeasyPrint: a report's PDF is its page rendered with the page's own print styles (A4).

WeasyPrint needs the Pango library from the operating system (Debian:
libpango-1.0-0, present with most desktops) and, for zh-TW text, a CJK font
such as Debian's fonts-noto-cjk. Without Pango the PDF download answers 503
with this explanation; the page itself still prints to PDF from the browser.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["PdfUnavailable", "html_to_pdf"]


class PdfUnavailable(RuntimeError):
    """PDF output cannot be made on this server (WeasyPrint or its system libraries are missing)."""


def _weasyprint() -> Any:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: Pango or its libraries are not installed
        raise PdfUnavailable(
            "PDF reports need WeasyPrint and the Pango library on the server (Debian: apt install libpango-1.0-0 "
            "fonts-noto-cjk); meanwhile, open the page and print it to PDF from the browser") from exc
    return weasyprint


def html_to_pdf(html: str, *, base_url: str) -> bytes:
    """The PDF of an HTML document; `base_url` resolves its stylesheet and image links (read from this site's disk)."""
    weasyprint = _weasyprint()
    document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=_local_fetcher(weasyprint, base_url))
    return document.write_pdf()


def _local_fetcher(weasyprint: Any, base_url: str) -> Any:
    """Read only this site's static files, from disk: rendering never makes a network request."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    static = Path(__file__).resolve().parent / "static"
    prefix = base_url.rstrip("/") + "/static/"

    class StaticFiles(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith(prefix):
                path = (static / url[len(prefix):].split("?")[0]).resolve()
                if path.is_file() and static in path.parents:
                    return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": _mime(path.suffix)})
            if url.startswith("data:"):
                return super().fetch(url, headers)
            raise ValueError(f"PDF rendering reads only this site's static files, not {url!r}")

    return StaticFiles()


def _mime(suffix: str) -> str:
    return {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}.get(suffix, "application/octet-stream")
