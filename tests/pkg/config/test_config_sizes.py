"""Sizes written as the Go agent writes them."""

from __future__ import annotations

import pytest

from pkg.config.sizes import parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (2048, 2048),
        (2048.0, 2048),
        ("2048", 2048),
        ("10Mb", 10 * 1024**2),
        ("512KB", 512 * 1024),
        (" 1gb ", 1024**3),
        ("7b", 7),
    ],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", [True, "10 TB", "ten", "", "-1", 1.5, None, "1" * 16])
def test_not_sizes(bad: object) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(bad)
