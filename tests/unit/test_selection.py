"""Which assets a delta run selects (orchestration/selection.py), on a small hand-made graph, and when a run
may narrow at all."""

from __future__ import annotations

import dagster as dg

from orchestration.changes import Changes
from orchestration.selection import (
    AS_OF_KEY,
    COMPARED_STEPS,
    PUBLISH_KEY,
    build_selection,
    compared_after,
    downstream,
    handed_on,
    load_selection,
    plan_run,
    step_selection,
)

# raw a -> s_a -> m_a -> mart_a ; raw b -> s_b -> m_ab <- m_a ; s_a, s_b -> asof -> mart_asof ; s_c <- raw c
CHILDREN = {
    "raw_a": {"s_a"},
    "raw_b": {"s_b"},
    "raw_c": {"s_c"},
    "s_a": {"m_a", "asof"},
    "s_b": {"m_ab", "asof"},
    "m_a": {"mart_a", "m_ab"},
    "asof": {"mart_asof"},
}


def test_downstream_follows_every_edge_but_those_out_of_a_cut_node():
    assert downstream(CHILDREN, ["raw_a"]) == {"s_a", "m_a", "mart_a", "m_ab", "asof", "mart_asof"}
    assert downstream(CHILDREN, ["raw_a"], cut=["asof"]) == {"s_a", "m_a", "mart_a", "m_ab", "asof"}
    assert downstream(CHILDREN, ["raw_b"], cut=["asof"]) == {"s_b", "m_ab", "asof"}
    assert downstream(CHILDREN, ["raw_c"]) == {"s_c"}
    assert downstream(CHILDREN, ["raw_a", "raw_b"]) == {
        "s_a", "s_b", "m_a", "mart_a", "m_ab", "asof", "mart_asof",
    }  # fmt: skip
    # a root reached from another root is part of the result; a root alone is not
    assert downstream(CHILDREN, ["raw_a", "s_a"]) == downstream(CHILDREN, ["raw_a"])
    assert downstream({}, ["x"]) == set()


# The same shape as Dagster assets, with the real as-of key, checks on some assets and publish after the marts.
def _key(name: str) -> dg.AssetKey:
    layer = {"r": "raw", "s": "staging", "i": "intermediate", "m": "marts"}[name[0]]
    return dg.AssetKey([layer, name[2:]])


def _graph() -> dg.Definitions:
    """raw a, b -> the dbt_staging step (staging a, b; the as-of date; intermediate keys, opps; rates, from
    staging b and the as-of date) -> the dbt_history step (hist, from opps and the as-of date) -> marts mrr,
    acts, pipe -> publish."""
    a, b = _key("r_a"), _key("r_b")

    @dg.asset(key=a)
    def raw_a(): ...

    @dg.asset(key=b)
    def raw_b(): ...

    @dg.multi_asset(
        name="dbt_staging",
        can_subset=True,
        specs=[
            dg.AssetSpec(_key("s_a"), deps=[a], skippable=True),
            dg.AssetSpec(_key("s_b"), deps=[b], skippable=True),
            dg.AssetSpec(AS_OF_KEY, deps=[_key("s_a"), _key("s_b")], skippable=True),
            dg.AssetSpec(_key("i_keys"), deps=[_key("s_a")], skippable=True),
            dg.AssetSpec(_key("i_opps"), deps=[_key("s_a"), _key("i_keys")], skippable=True),
            dg.AssetSpec(_key("i_rates"), deps=[_key("s_b"), AS_OF_KEY], skippable=True),
        ],
    )
    def dbt_staging(): ...

    @dg.multi_asset(
        name="dbt_history",
        can_subset=True,
        specs=[dg.AssetSpec(_key("m_hist"), deps=[_key("i_opps"), AS_OF_KEY], skippable=True)],
    )
    def dbt_history(): ...

    @dg.asset(key=_key("m_mrr"), deps=[_key("s_b"), AS_OF_KEY])
    def mrr(): ...

    @dg.asset(key=_key("m_acts"), deps=[_key("s_a")])
    def acts(): ...

    @dg.asset(key=_key("m_pipe"), deps=[_key("m_hist")])
    def pipe(): ...

    @dg.asset(key=PUBLISH_KEY, deps=[_key("m_mrr"), _key("m_acts"), _key("m_pipe")])
    def publish(): ...

    @dg.asset_check(asset=a)
    def gate_a(): ...

    @dg.asset_check(asset=_key("s_b"))
    def gate_s_b(): ...

    @dg.asset_check(asset=_key("m_acts"))
    def gate_acts(): ...

    @dg.asset_check(asset=_key("m_mrr"))
    def gate_mrr(): ...

    return dg.Definitions(
        assets=[raw_a, raw_b, dbt_staging, dbt_history, mrr, acts, pipe, publish],
        asset_checks=[gate_a, gate_s_b, gate_acts, gate_mrr],
    )


def _names(keys) -> set[str]:
    return {"/".join(k.path) for k in keys}


def test_each_phase_selects_its_share_of_a_dagster_asset_graph():
    graph = _graph().resolve_asset_graph()
    every = set(graph.get_all_asset_keys())

    load = load_selection(graph, ["a"])
    assert _names(load.assets) == {"raw/a"}
    assert {c.name for c in load.checks} == {"gate_a"}

    # the dbt_staging phase builds the as-of date but not its readers in the step, which wait on its comparison
    staged = step_selection(graph, ["a"], every, [], set(), "dbt_staging")
    assert _names(staged.assets) == {
        "staging/a", "intermediate/int_as_of_date", "intermediate/keys", "intermediate/opps",
    }  # fmt: skip
    assert staged.checks == set()  # the graph has no check on them
    assert compared_after(graph, staged.assets) == {_key("s_a"), AS_OF_KEY, _key("i_opps")}
    # it did not move: the step has nothing more to build; it moved: its reader in the step is built next
    assert step_selection(graph, ["a"], every, [AS_OF_KEY], staged.assets, "dbt_staging").assets == set()
    again = step_selection(graph, ["a"], every, [], staged.assets, "dbt_staging")
    assert _names(again.assets) == {"intermediate/rates"}
    assert compared_after(graph, again.assets) == set()  # nothing later reads rates
    # b feeds rates directly, which is built in the first phase with staging/b and its gate
    staged_b = step_selection(graph, ["b"], every, [], set(), "dbt_staging")
    assert _names(staged_b.assets) == {"staging/b", "intermediate/int_as_of_date", "intermediate/rates"}
    assert {c.name for c in staged_b.checks} == {"gate_s_b"}
    # what a phase built, the later phases do not build again
    after = build_selection(graph, ["a"], every, unchanged=[AS_OF_KEY], built_before=staged.assets)
    assert _names(after.assets) == {"marts/hist", "marts/acts", "marts/pipe", "publish/marts"}

    # the as-of date did not move: its readers are not rebuilt through it
    kept = build_selection(graph, ["a"], every, unchanged=[AS_OF_KEY])
    assert _names(kept.assets) == {
        "staging/a",
        "intermediate/int_as_of_date",
        "intermediate/keys",
        "intermediate/opps",
        "marts/hist",
        "marts/acts",
        "marts/pipe",
        "publish/marts",
    }
    assert {c.name for c in kept.checks} == {"gate_acts"}
    assert kept.models == {_key(n) for n in ("s_a", "i_keys", "i_opps", "m_hist", "m_acts", "m_pipe")} | {
        AS_OF_KEY
    }
    # it moved: they are
    moved = build_selection(graph, ["a"], every)
    assert _names(moved.assets) == _names(kept.assets) | {"marts/mrr", "intermediate/rates"}
    assert {c.name for c in moved.checks} == {"gate_acts", "gate_mrr"}
    # raw b feeds mrr directly: unchanged as-of or not, mrr is rebuilt
    assert "marts/mrr" in _names(build_selection(graph, ["b"], every, unchanged=[AS_OF_KEY]).assets)
    # no table received rows: nothing
    assert build_selection(graph, [], every).assets == set()
    # only what the job holds
    assert build_selection(graph, ["a"], every - {PUBLISH_KEY}).assets.isdisjoint({PUBLISH_KEY})


def test_each_dbt_step_is_a_phase_and_hands_on_only_what_moved():
    graph = _graph().resolve_asset_graph()
    every = set(graph.get_all_asset_keys())
    assert COMPARED_STEPS == ("dbt_staging", "dbt_history")
    staged = step_selection(graph, ["a"], every, [], set(), "dbt_staging")
    assert _names(staged.assets) == {
        "staging/a", "intermediate/int_as_of_date", "intermediate/keys", "intermediate/opps",
    }  # fmt: skip  # no mart, no publish
    # keys is read by opps only, in the same phase: nothing to compare; the others are read by later steps
    assert handed_on(graph, staged.assets) == {_key("s_a"), AS_OF_KEY, _key("i_opps")}
    done = set(staged.assets)

    # opps came out as it was: hist, which reads nothing else that moved, is not rebuilt, nor pipe over it
    unchanged = [AS_OF_KEY, _key("i_opps")]
    assert step_selection(graph, ["a"], every, unchanged, done, "dbt_staging").assets == set()
    assert step_selection(graph, ["a"], every, unchanged, done, "dbt_history").assets == set()
    assert _names(build_selection(graph, ["a"], every, unchanged, built_before=done).assets) == {
        "marts/acts", "publish/marts",
    }  # fmt: skip

    # opps moved: hist is rebuilt in its phase and handed on to pipe; hist came out as it was: pipe is not rebuilt
    history = step_selection(graph, ["a"], every, [AS_OF_KEY], done, "dbt_history")
    assert _names(history.assets) == {"marts/hist"}
    assert handed_on(graph, history.assets) == {_key("m_hist")}  # publish does not count
    rest = build_selection(
        graph, ["a"], every, [AS_OF_KEY, _key("m_hist")], built_before=done | history.assets
    )
    assert _names(rest.assets) == {"marts/acts", "publish/marts"}
    moved = build_selection(graph, ["a"], every, [AS_OF_KEY], built_before=done | history.assets)
    assert _names(moved.assets) == {"marts/acts", "marts/pipe", "publish/marts"}


def _changes(**kw) -> Changes:
    found = Changes(last_run={"run_id": "r1"}, **kw)
    found.reasons.append("new files")
    return found


def test_a_run_narrows_only_when_new_object_files_are_the_one_news():
    assert plan_run(_changes(new_files={"crm__opportunity": ["x"], "activity__event": ["y"]})).tables == (
        "activity__event",
        "crm__opportunity",
    )
    landing_level = plan_run(_changes(new_files={"crm__opportunity": ["x"], None: ["crm/notes.txt"]}))
    assert not landing_level.delta and "crm/notes.txt" in landing_level.reason
    settings_changed = _changes(new_files={"crm__opportunity": ["x"]})
    settings_changed.need_full_run("the code or the settings changed")
    assert not plan_run(settings_changed).delta
    assert plan_run(settings_changed).headline() == "full run: the code or the settings changed"
    assert not plan_run(None).delta
    assert not plan_run(Changes()).delta
