"""The formats a contest starts from are definitions the API accepts as they are."""

import pytest

from leitai.formats import FORMATS
from services.gateway.schemas import ContestCreate, SeriesCreate, StageCreate

TOWNSHIPS = ["t1", "t2", "t3"]


def groups(how: str) -> list[dict]:
    """What the console makes of a stage's grouping over a county's townships."""
    if how == "township":
        return [{"group_id": f"g-{t}", "name": t, "townships": [t]} for t in TOWNSHIPS]
    assert how == "county"
    return [{"group_id": "g-county", "name": "全县", "townships": TOWNSHIPS}]


@pytest.mark.parametrize("key", sorted(FORMATS))
def test_every_format_defines_stages_and_series_the_api_accepts(key):
    definition = FORMATS[key]
    ContestCreate().load(
        {"contest_id": "c", "name": "擂台", "tree_id": "t", "county_code": "c", "format": definition["format"]}
    )
    assert definition["stages"] or definition["series"]
    for stage in definition["stages"]:
        StageCreate().load(dict(stage, groups=groups(stage["groups"])))
        ids = {c["criterion_id"] for c in stage["criteria"]}
        tiebreak = stage["advancement"]["tiebreak"]
        assert {t["criterion_id"] for t in tiebreak if t["kind"] == "criterion"} <= ids
    assert [s["order"] for s in definition["stages"]] == list(range(1, len(definition["stages"]) + 1))
    for series in definition["series"]:
        SeriesCreate().load(series)
