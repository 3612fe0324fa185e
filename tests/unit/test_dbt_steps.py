"""The dbt command of each step: a partition window becomes dbt vars, the whole history none."""

import json
from datetime import UTC, datetime

from orchestration.defs.dbt.assets import DBT_STEPS, PARTITIONED_TAG, dbt_build_args


def test_unpartitioned_build_is_plain():
    assert dbt_build_args(None) == ["build"]


def test_window_is_passed_as_vars_end_exclusive():
    args = dbt_build_args((datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC)))
    assert args[:3] == ["build", "--exclude-resource-type", "unit_test"]
    assert json.loads(args[args.index("--vars") + 1]) == {
        "partition_start": "2025-03-01",
        "partition_end": "2025-05-01",
    }


def test_history_marts_are_built_by_their_own_step_only():
    assert DBT_STEPS["dbt_history"].select == f"tag:{PARTITIONED_TAG}"
    assert DBT_STEPS["dbt_history"].partitioned
    assert DBT_STEPS["dbt_marts"].exclude == f"tag:{PARTITIONED_TAG}"
    assert not any(s.partitioned for name, s in DBT_STEPS.items() if name != "dbt_history")
