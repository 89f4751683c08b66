"""Shared fixtures of the image tests: the built images.

Building needs root, apt and mmdebstrap (installed by the builder when missing); without
them the tests that need images skip with the reason, except with CI=true, where a
missing prerequisite fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

# imagetest puts tools/images on sys.path: the test modules import destate_images after it
from imagetest import REPO, require_root_tools, skip_or_fail

if TYPE_CHECKING:
    from destate_images.builder import BuiltImage


@pytest.fixture(scope="session")
def built_images() -> dict[str, BuiltImage]:
    """Every image, built or found in the cache (seconds when tools/bootstrap built them)."""
    from destate_images.builder import build
    from destate_images.errors import ImageError
    from destate_images.specs import all_images

    require_root_tools("apt-get", "apt-cache", "chroot", "unshare")
    try:
        images = build(all_images(REPO), say=lambda _message: None)
    except ImageError as error:
        skip_or_fail(f"the images could not be built: {error}")
        raise
    return {image.name: image for image in images}
