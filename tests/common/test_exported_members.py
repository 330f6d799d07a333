from __future__ import annotations

import services.common as common


def test_all_lists_the_public_names() -> None:
    public = {name for name in dir(common) if not name.startswith("_")}
    modules = {
        "errors",
        "settings",
        "store",
        "twin",
        "codes",
        "logging",
        "redis_conn",
        "celery_app",
        "fhir",
        "annotations",
    }
    assert set(common.__all__) == public - modules
