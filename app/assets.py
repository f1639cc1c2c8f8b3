"""Static assets served under content-hashed names (``/static/app.3f2a9c1b.js``), so they can be cached
forever (``immutable``) and a new release never meets a stale script."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


class AssetManifest:
    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self.urls: dict[str, str] = {}
        self.assets: dict[str, Asset] = {}
        for path in sorted(directory.iterdir()):
            if not path.is_file():
                continue
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:12]
            hashed = f"{path.stem}.{digest}{path.suffix}"
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if content_type.startswith("text/") or content_type.endswith("javascript"):
                content_type += "; charset=utf-8"
            self.urls[path.name] = f"/static/{hashed}"
            self.assets[hashed] = Asset(body, content_type, f'"{digest}"')

    def url(self, name: str) -> str:
        return self.urls[name]
