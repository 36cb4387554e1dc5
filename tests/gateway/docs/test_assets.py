from __future__ import annotations

import hashlib

import pytest

from gateway.docs.assets import STATIC_DIR, AssetUrls, vendored
from scripts import vendor_docs_assets


def test_vendored_files_match_the_manifest_sums() -> None:
    for package in vendored().values():
        for name, digest in package.sha256.items():
            data = (STATIC_DIR / package.directory / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest, f"{package.directory}/{name}"


def test_vendoring_script_pins_what_the_manifest_records() -> None:
    assert vendor_docs_assets.check() == 0
    pinned = {p.name: p.version for p in vendor_docs_assets.PACKAGES}
    assert pinned == {name: p.version for name, p in vendored().items()}


def test_swagger_ui_is_5_or_later_for_openapi_31() -> None:
    major = int(vendored()["swagger-ui-dist"].version.split(".")[0])

    assert major >= 5


def test_every_vendored_package_ships_its_licence() -> None:
    for package in vendored().values():
        assert "LICENSE" in package.sha256


def test_vendored_urls_name_the_versioned_directory() -> None:
    urls = AssetUrls("/api/docs/static")

    assert urls.vendored("redoc", "redoc.standalone.js") == (
        f"/api/docs/static/{vendored()['redoc'].directory}/redoc.standalone.js"
    )
    with pytest.raises(KeyError):
        urls.vendored("redoc", "missing.js")


def test_own_file_urls_change_with_their_content() -> None:
    url = AssetUrls("/s").own("swagger-init.js")
    digest = hashlib.sha256((STATIC_DIR / "switchboard" / "swagger-init.js").read_bytes())

    assert url == f"/s/switchboard/swagger-init.js?v={digest.hexdigest()[:12]}"
