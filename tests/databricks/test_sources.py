"""The workspace poll source driven by cockpit.polling.Poller against a misbehaving simulator."""

from __future__ import annotations

import threading
import time

from ws_helpers import ADMIN

from cockpit.config import parse_config
from cockpit.databricks.adapter import ConnectOptions
from cockpit.databricks.sources import WorkspaceSource, poll_sources
from cockpit.polling import INTERNAL_ERROR, Poller, prepare_pollers
from cockpit.store import StateStore

MIGRATION = '[migration]\nname = "t"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'


def _source(sim, token: str = ADMIN, **kw) -> WorkspaceSource:
    options = ConnectOptions(host=sim.url, token=token, retry_timeout_s=5, http_timeout_s=10)
    return WorkspaceSource(options, interval_s=0.5, **kw)


def test_poll_sources_follow_the_config(sim):
    none = parse_config(MIGRATION)
    assert poll_sources(none) == []
    config = parse_config(MIGRATION + f'[databricks]\nhost = "{sim.url}"\npoll_interval_s = 30\n')
    [source] = poll_sources(config)
    assert (source.name, source.interval_s, source.options.host) == ("databricks", 30.0, sim.url)


def test_health_goes_degraded_then_down_then_ok_over_a_5xx_burst(sim):
    store = StateStore.create_in_memory()
    poller = Poller(_source(sim, history=False), store)
    assert poller.poll_once().status.status == "ok"
    sim.faults.set(error_burst=3, error_status=500)
    states = [poller.poll_once().status for _ in range(3)]
    assert [s.status for s in states] == ["degraded", "degraded", "down"]
    assert "failed to list jobs" in states[-1].last_error
    assert poller.next_delay() > 0.5  # backing off
    recovered = poller.poll_once()
    assert recovered.status.status == "ok" and recovered.summary["jobs"] == 14
    changes = [(e.payload["from"], e.payload["to"]) for e in store.events(kinds=["source.status"])]
    assert changes == [("unknown", "ok"), ("ok", "degraded"), ("degraded", "down"), ("down", "ok")]
    assert len(store.events(kinds=["source.error"])) == 3


def test_a_poll_never_overlaps_itself_on_a_slow_workspace(sim):
    store = StateStore.create_in_memory()
    poller = Poller(_source(sim, history=False), store)
    poller.poll_once()  # connected; later polls only pay the slow requests
    sim.faults.set(delay_s=1.0)
    before = sum(sim.requests.values())
    first = threading.Thread(target=poller.poll_once)
    first.start()
    deadline = time.monotonic() + 30
    while sum(sim.requests.values()) == before and time.monotonic() < deadline:
        time.sleep(0.01)  # until the first poll's request reached the slow workspace
    skipped = poller.poll_once()
    # Skipped at once: it did not wait for the first poll, still in its slow requests.
    assert not skipped.ran and first.is_alive()
    first.join(30)
    assert poller.status.status == "ok" and poller.status.skipped_overlaps == 1


def test_a_bad_token_is_down_with_the_reason_and_no_token(sim):
    store = StateStore.create_in_memory()
    bad = "dapi-poller-wrong-token-77"
    poller = Poller(_source(sim, token=bad), store)
    for _ in range(3):
        outcome = poller.poll_once()
    assert outcome.status.status == "down"
    assert "refused the token (401)" in outcome.status.last_error
    assert all(bad not in str(e.payload) for e in store.events())


class HalfInitialised:
    """What the SDK client looked like after a concurrent import broke `requests` (issue 20)."""

    def __getattr__(self, name):
        raise AttributeError("module 'requests' has no attribute 'exceptions'")


def test_an_internal_error_rebuilds_the_client_and_recovers(sim):
    store = StateStore.create_in_memory()
    source = _source(sim, history=False)
    poller = Poller(source, store)
    prepare_pollers([poller])
    assert poller.poll_once().status.status == "ok"
    broken = source.adapter()
    broken._client = HalfInitialised()
    failed = poller.poll_once()
    assert failed.status.status == INTERNAL_ERROR  # a bug on our side, not "down"
    assert "AttributeError: module 'requests' has no attribute 'exceptions'" in (
        failed.status.last_error
    )
    recovered = poller.poll_once()  # a new SDK client, connected from scratch
    assert recovered.status.status == "ok" and recovered.summary["jobs"] == 14
    assert source.adapter() is not broken
    [error] = store.events(kinds=["source.error"])
    assert error.payload["internal"] is True
