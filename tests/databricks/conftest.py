"""A real simulator (HTTP on 127.0.0.1) per session and the real databricks-sdk as the client."""

from __future__ import annotations

import pytest
from ws_helpers import BIG_TOKEN, KYROS_SCENARIO, connect

from cockpit.databricks.adapter import WorkspaceAdapter
from cockpit.databricks.scenario import load_scenario, parse_scenario, synthetic_scenario
from cockpit.databricks.simulator import WorkspaceSimulator

NO_FAULTS = {
    "delay_s": 0,
    "rate_limit": 0,
    "retry_after": 1,
    "error_burst": 0,
    "error_status": 503,
    "error_after": 0,
    "drop": 0,
}


@pytest.fixture(scope="session")
def kyros_sim():
    # Stepped: a submitted run is PENDING at its first runs/get, RUNNING at its second, done
    # at its third, however slow the machine (tests watch every state and cancel active runs).
    sim = WorkspaceSimulator(load_scenario(KYROS_SCENARIO), pending_s=1, running_s=1, stepped=True)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def big_sim():
    """Enough jobs and runs for several pages of each (jobs/list 100, runs/list 25 per page)."""
    scenario = parse_scenario(synthetic_scenario(250, 130, token=BIG_TOKEN, seed=7))
    sim = WorkspaceSimulator(scenario)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(kyros_sim):
    """The Kyros simulator with its faults reset before and after the test."""
    kyros_sim.faults.set(**NO_FAULTS)
    yield kyros_sim
    kyros_sim.faults.set(**NO_FAULTS)


@pytest.fixture
def adapter(sim) -> WorkspaceAdapter:
    return connect(sim)
