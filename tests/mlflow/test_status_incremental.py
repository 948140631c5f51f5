"""The incremental status poll (cockpit/mlflow/poll_state.py) on real servers: after new runs,
finished runs, new copies (of new runs and of runs missing before) and nested runs it answers
exactly what a full poll answers, reading a fraction of the runs; a delete of a settled run is
what it cannot see, and the periodic full poll (the reconcile) shows it."""

from __future__ import annotations

import uuid

import pytest
import seed

from cockpit.mlflow import status
from cockpit.mlflow.adapter import connect_new, connect_old
from cockpit.mlflow.models import PARENT_TAG, TAG_SOURCE_RUN
from cockpit.mlflow.poll_state import PollState
from cockpit.mlflow.records import PollSummary
from cockpit.mlflow.status import poll_status
from cockpit.mlflow.sync import Syncer, SyncOptions

pytestmark = pytest.mark.servers

RUNS = 200


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _answer(summary: PollSummary) -> tuple:
    """Everything a poll says about the servers (not when it ran or how long it took)."""
    return (summary.experiments, summary.models)


@pytest.mark.parametrize("new_version", ["mlflow_v2", "mlflow_v3"])
def test_incremental_poll_equals_full_poll_until_reconcile(
    mlflow_v1, new_version, request, monkeypatch
):
    new_server = request.getfixturevalue(new_version)
    name = f"incr-{uuid.uuid4().hex[:6]}"
    ids = seed.bulk(mlflow_v1.url, name, RUNS, params=2, metrics=1, steps=1, tags=1, artifact=False)
    old, new = connect_old(mlflow_v1.url), connect_new(new_server.url)
    options = SyncOptions(experiments=[name], registry=False)
    Syncer(old, new, options=options).run()
    clock = Clock()
    state = PollState(reconcile_s=600.0, clock=clock)
    w = seed.Writer(mlflow_v1.url)
    exp = old.experiment_by_name(name).experiment_id
    t = seed.T0 + RUNS * 1000

    def both() -> tuple[PollSummary, PollSummary]:
        clock.now += 30
        incremental = poll_status(old, new, experiments=[name], state=state)
        return incremental, poll_status(old, new, experiments=[name])

    first, full = both()
    assert not first.incremental and _answer(first) == _answer(full)
    assert (first.missing, first.differing, first.old_runs, first.new_runs) == (0, 0, RUNS, RUNS)
    first_read = state.last_cost.runs_read
    assert first_read == 2 * RUNS

    # New runs on the old side: two finished, one still RUNNING; none copied yet.
    a = w.run(exp, "late-a", start=t + 1000)["run_id"]
    w.finish(a, "FINISHED", t + 1500)
    b = w.run(exp, "late-b", start=t + 2000)["run_id"]
    c = w.run(exp, "late-c", start=t + 3000)["run_id"]
    w.finish(c, "FAILED", t + 3500)
    second, full = both()
    assert second.incremental and _answer(second) == _answer(full)
    (row,) = second.experiments
    assert (row.missing, row.running, row.old_active) == (3, 1, RUNS + 3)
    assert set(row.missing_ids) == {a, b, c}
    assert state.last_cost.experiments_incremental == 1
    assert state.last_cost.runs_read <= 10  # the new runs and the edge, not the 200 settled

    # The mirror copies them (b while RUNNING), then b finishes and d starts after the copy;
    # a nested run whose parent is a settled run is logged and copied too.
    child = w.run(exp, "child", start=t + 4000, tags={PARENT_TAG: ids[5]})["run_id"]
    w.finish(child, "FINISHED", t + 4500)
    Syncer(old, new, options=options).run()
    w.finish(b, "FINISHED", t + 5000)
    d = w.run(exp, "late-d", start=t + 6000)["run_id"]
    w.finish(d, "FINISHED", t + 6500)
    third, full = both()
    assert third.incremental and _answer(third) == _answer(full)
    (row,) = third.experiments
    assert (row.missing_ids, row.differing_ids, row.running) == ([d], [b], 0)
    assert row.new_active == RUNS + 4

    # Everything copied: no drift, and the poll reads only the edge.
    Syncer(old, new, options=options).run()
    fourth, full = both()
    assert fourth.incremental and _answer(fourth) == _answer(full)
    assert fourth.drift == 0 and fourth.old_runs == RUNS + 5 == fourth.new_runs
    assert state.last_cost.runs_read <= 6  # b, d, their copies, the edge: not the settled 200

    # A settled run deleted on the old side: invisible to an incremental poll (documented)...
    w.post(f"{seed.API}/runs/delete", {"run_id": ids[10]})
    fifth, full = both()
    assert fifth.incremental and fifth.drift == 0
    assert (full.differing, full.experiments[0].old_deleted) == (1, 1)
    # ... until the reconcile, a full poll, once reconcile_s has passed.
    clock.now += 600
    sixth, full = both()
    assert not sixth.incremental and _answer(sixth) == _answer(full)
    assert sixth.experiments[0].differing_ids == [ids[10]]
    assert state.last_cost.full and state.last_cost.runs_read == 2 * (RUNS + 5)
    # The delete is now tracked (differing): the next incremental poll keeps showing it.
    seventh, full = both()
    assert seventh.incremental and _answer(seventh) == _answer(full)
    assert seventh.differing == 1

    # Copies of runs behind the new side's watermark: a copy keeps its source's start_time, so
    # the window cannot see it; the poll reads the new side's runs started since the oldest such
    # run (newest first, up to a budget), then asks by tag for what the budget did not reach.
    e1 = w.run(exp, "late-e1", start=t + 7000)["run_id"]
    w.finish(e1, "FINISHED", t + 7050)
    e2 = w.run(exp, "late-e2", start=t + 7100)["run_id"]
    w.finish(e2, "FINISHED", t + 7150)
    f = w.run(exp, "late-f", start=t + 8000)["run_id"]
    w.finish(f, "FINISHED", t + 8050)
    # Someone else's (partial) copy of f moves the new side's watermark past e1 and e2.
    seed.Writer(new_server.url).run(
        seventh.experiments[0].dest_id, "late-f", start=t + 8000, tags={TAG_SOURCE_RUN: f}
    )
    eighth, full = both()
    assert eighth.incremental and _answer(eighth) == _answer(full)
    assert (eighth.experiments[0].missing_ids, eighth.experiments[0].differing_ids) == (
        [e2, e1],
        [f, ids[10]],
    )
    Syncer(old, new, options=options).run()
    monkeypatch.setattr(status, "RANGE_BUDGET", 1)  # the range reaches e2's copy, not e1's
    ninth, full = both()
    assert ninth.incremental and _answer(ninth) == _answer(full)
    assert ninth.missing == 0 and ninth.experiments[0].new_active == RUNS + 7
    # Searches besides the windows: the tracked old runs ids[10], e1, e2 by id (one each: 1.30.1
    # refuses IN), ids[10]'s copy by id (IN), one range (which finds e2's copy), then by tag
    # for e1 only.
    assert state.last_cost.lookups == 6


def test_state_is_per_servers_and_scope_and_reset(mlflow_v1, mlflow_v2):
    name = f"incr-scope-{uuid.uuid4().hex[:6]}"
    seed.bulk(mlflow_v1.url, name, 5, params=1, metrics=1, steps=1, tags=1, artifact=False)
    old, new = connect_old(mlflow_v1.url), connect_new(mlflow_v2.url)
    state = PollState(reconcile_s=3600.0)
    assert not poll_status(old, new, experiments=[name], state=state).incremental
    assert poll_status(old, new, experiments=[name], state=state).incremental
    # Another scope is another state: full first.
    other = f"incr-other-{uuid.uuid4().hex[:6]}"
    seed.bulk(mlflow_v1.url, other, 2, params=1, metrics=1, steps=1, tags=1, artifact=False)
    assert not poll_status(old, new, experiments=[other], state=state).incremental
    state.reset()
    assert not poll_status(old, new, experiments=[other], state=state).incremental
    # A state that would track more than max_tracked runs is dropped: that experiment is read
    # whole each time (5 missing runs > 3).
    small = PollState(reconcile_s=3600.0, max_tracked=3)
    poll_status(old, new, experiments=[name], state=small)
    again = poll_status(old, new, experiments=[name], state=small)
    assert again.incremental and small.last_cost.experiments_whole == 1
    assert again.missing == 5


def _copied_with_deep_runs(old_server, new_server, prefix: str, count: int):
    """An experiment of 30 runs copied to the new server, then ``count`` runs logged on the old
    one with start times deep among the copied ones (not copied): (name, old, new, the copy's
    options, the deep runs' ids)."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    seed.bulk(old_server.url, name, 30, params=1, metrics=1, steps=1, tags=1, artifact=False)
    old, new = connect_old(old_server.url), connect_new(new_server.url)
    options = SyncOptions(experiments=[name], registry=False)
    Syncer(old, new, options=options).run()
    w = seed.Writer(old_server.url)
    exp = old.experiment_by_name(name).experiment_id
    deep = []
    for k in range(count):
        run = w.run(exp, f"deep-{k}", start=seed.T0 + 500 + k * 3000)
        w.finish(run["run_id"], "FINISHED", seed.T0 + 600 + k * 3000)
        deep.append(run["run_id"])
    return name, old, new, options, deep


def _count_tag_searches(new, monkeypatch) -> list[str]:
    """The source run ids the new server's adapter is asked for by tag, as the searches go out
    (the list is the caller's to clear between polls)."""
    searched: list[str] = []
    real_search = new.search_runs

    def counting(experiment_ids, **kwargs):
        text = kwargs.get("filter_string") or ""
        if f"tags.`{TAG_SOURCE_RUN}`" in text:
            searched.append(text.rsplit("'", 2)[-2])
        return real_search(experiment_ids, **kwargs)

    monkeypatch.setattr(new, "search_runs", counting)
    return searched


def test_tag_searches_have_a_budget_per_poll_and_a_run_not_found_is_searched_once(
    mlflow_v1, mlflow_v2, monkeypatch
):
    """Copies of runs deep in history (out of the range search's reach) are searched for by tag,
    about 1 s each at 100k runs: at most ``tag_search_limit`` per poll, and a run searched for
    (or found missing by a whole read) and not found is not searched again until the reconcile.
    The searches counted are the requests the new server's adapter sends with the tag filter."""
    name, old, new, options, deep = _copied_with_deep_runs(mlflow_v1, mlflow_v2, "tagbudget", 5)
    monkeypatch.setattr(status, "RANGE_BUDGET", 2)  # the range reaches only the newest copies

    searched = _count_tag_searches(new, monkeypatch)
    clock = Clock()
    state = PollState(reconcile_s=600.0, clock=clock, tag_search_limit=3)

    def poll() -> tuple[PollSummary, list[str]]:
        clock.now += 30
        searched.clear()
        summary = poll_status(old, new, experiments=[name], state=state)
        assert state.last_cost.tag_searches == len(searched)
        return summary, sorted(searched)

    first, tags = poll()  # full: every copy read, the five found missing
    assert not first.incremental and sorted(first.experiments[0].missing_ids) == sorted(deep)
    assert tags == []
    for _ in range(3):  # remembered by the whole read: never searched by tag
        later, tags = poll()
        assert later.incremental and later.missing == 5 and tags == []

    # Forgotten (as the mirror does after copying runs): searched again, three per poll at most,
    # each once; the two left for the next poll count as missing meanwhile (they are).
    state.forget_not_found()
    per_poll = []
    for _ in range(4):
        later, tags = poll()
        assert later.incremental and later.missing == 5
        per_poll.append(tags)
    assert [len(t) for t in per_poll] == [3, 2, 0, 0]
    assert sorted(per_poll[0] + per_poll[1]) == sorted(deep)

    # Copied now: the mirror forgets after a cycle that created runs, and the next polls find
    # the copies by tag within the budget (the two not searched yet still count as missing).
    Syncer(old, new, options=options).run()
    state.forget_not_found()
    found, tags = poll()
    assert len(tags) == 3 and found.missing == 2
    found, tags = poll()
    assert len(tags) == 2 and found.missing == 0
    assert _answer(found) == _answer(poll_status(old, new, experiments=[name]))
    found, tags = poll()
    assert tags == [] and found.missing == 0


def test_a_parent_copy_found_by_tag_is_read_by_id_while_its_children_run(
    mlflow_v1, mlflow_v2, monkeypatch
):
    """A sweep's children run for hours under a parent settled long ago: each poll reads the
    children (RUNNING, so tracked) and needs their parent's copy for the parent link, which no
    window or range reaches. It is searched for by tag once (~1 s at 100k runs), then read by
    id with the other lookups; gone, it is searched for again."""
    name = f"parents-{uuid.uuid4().hex[:6]}"
    ids = seed.bulk(mlflow_v1.url, name, 30, params=1, metrics=1, steps=1, tags=1, artifact=False)
    old, new = connect_old(mlflow_v1.url), connect_new(mlflow_v2.url)
    options = SyncOptions(experiments=[name], registry=False)
    w = seed.Writer(mlflow_v1.url)
    exp = old.experiment_by_name(name).experiment_id
    t = seed.T0 + 30 * 1000
    children = [
        w.run(exp, f"trial-{k}", start=t + 1000 * (k + 1), tags={PARENT_TAG: ids[3]})["run_id"]
        for k in range(3)
    ]
    Syncer(old, new, options=options).run()  # the children copied while RUNNING

    searched = _count_tag_searches(new, monkeypatch)
    clock = Clock()
    state = PollState(reconcile_s=600.0, clock=clock)

    def poll(exact: bool = True) -> tuple[PollSummary, list[str]]:
        clock.now += 30
        searched.clear()
        summary = poll_status(old, new, experiments=[name], state=state)
        if exact:
            assert _answer(summary) == _answer(poll_status(old, new, experiments=[name]))
        return summary, list(searched)

    first, tags = poll()  # full
    assert not first.incremental and first.drift == 0 and first.experiments[0].running == 3
    per_poll = []
    for _ in range(4):
        later, tags = poll()
        assert later.incremental and later.drift == 0 and later.experiments[0].running == 3
        per_poll.append(tags)
    assert per_poll == [[ids[3]], [], [], []]

    # The copy remembered no longer says it copies the parent (someone re-tagged it): the
    # poll does not take it for the parent's copy, and searches by tag again. (A settled run's
    # change waits for the reconcile, so this poll is not compared with a full one.)
    dest_state = state._experiments[exp]
    copy_id = dest_state.parent_copies[ids[3]]
    seed.Writer(mlflow_v2.url).post(
        f"{seed.API}/runs/set-tag", {"run_id": copy_id, "key": TAG_SOURCE_RUN, "value": "x"}
    )
    later, tags = poll(exact=False)
    assert tags == [ids[3]]
    assert ids[3] not in state._experiments[exp].parent_copies
    assert set(later.experiments[0].differing_ids) >= set(children)


def test_the_poller_searches_again_for_runs_a_recorded_sync_copied(
    mlflow_v1, mlflow_v2, monkeypatch, tmp_path
):
    """The TUI's and the recorder's poller keep their own poll state: runs it remembers as not
    found (deep in history, out of the range's reach) and that a sync or mirror recorded in the
    same state file has copied since are searched for again at its next poll, not reported
    missing until the reconcile (15 min)."""
    from cockpit.config import parse_config
    from cockpit.mlflow.records import poll_experiments
    from cockpit.mlflow.sources import MlflowStatusSource
    from cockpit.store import StateStore

    name, old, new, options, _ = _copied_with_deep_runs(mlflow_v1, mlflow_v2, "pollerforget", 3)
    monkeypatch.setattr(status, "RANGE_BUDGET", 2)  # the range reaches only the newest copies
    config = parse_config(
        '[migration]\nname = "t"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'
        f'[mlflow.old]\ntracking_uri = "{mlflow_v1.url}"\n'
        f'[mlflow.new]\ntracking_uri = "{mlflow_v2.url}"\n'
    )
    source = MlflowStatusSource(config)
    with StateStore.open(tmp_path / "state.db", create=True) as store:

        def missing() -> tuple[bool, int]:
            polled = source.poll(store)
            row = next(e for e in poll_experiments(store, polled["poll_id"]) if e.name == name)
            return polled["incremental"], row.missing

        assert missing() == (False, 3)  # full: the three remembered as not found
        assert missing() == (True, 3)
        Syncer(old, new, options=options, store=store).run()  # recorded: mlflow.sync.finished
        assert missing() == (True, 0)
        source.reset()
