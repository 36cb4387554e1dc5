"""The API documentation pages (Swagger UI, ReDoc) and their offline assets.

`DocsPages().routes()` gives the routes to add to the gateway's Starlette app: `/api/docs`,
`/api/redoc` and the assets under `/api/docs/static/`. The OpenAPI document itself
(`/api/openapi.json`) is served elsewhere; the pages only point at it.
"""

from gateway.docs.assets import AssetUrls, CachedAssets, assets_app, vendored
from gateway.docs.pages import DocsPages, content_security_policy

__all__ = [
    "AssetUrls",
    "CachedAssets",
    "DocsPages",
    "assets_app",
    "content_security_policy",
    "vendored",
]
