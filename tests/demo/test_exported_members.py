from __future__ import annotations

import types

import services.demo as demo


def test_all_lists_the_public_names() -> None:
    public = {
        name
        for name in dir(demo)
        if not name.startswith("_") and not isinstance(getattr(demo, name), types.ModuleType) and name != "annotations"
    }
    assert set(demo.__all__) == public
