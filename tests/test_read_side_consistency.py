"""The gates, the report, the MLflow tab and the playbook tell the same MLflow story at every moment.

Each of the four reads the MLflow facts through ``cockpit.mlflow.records`` (issue 12): the drift
of the latest poll and the last deep verify as of the moment shown. This test walks the shipped
sample state's whole history the way a reviewer does (offline, ``[`` one event back at a time,
from the latest moment to the first event) and at every step reads what each consumer shows on its
real code path: the gates from ``evaluate``, the report from its Markdown, the playbook from its
Markdown, and the MLflow tab from its header as drawn in the running app. Each is parsed back into
facts and compared with an oracle that reads the file with its own SQL and the documented as-of
rule (newest by its own time among rows with ``ts <= as_of``, ties by insertion).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from textual.widgets import Static

from cockpit.cutover.gates import FAIL, NO_DATA, PASS, evaluate
from cockpit.cutover.playbook import playbook_markdown
from cockpit.document.render import to_markdown
from cockpit.reporting.walkthrough import build_report
from cockpit.store import StateStore
from cockpit.timefmt import fmt_ts
from screens.app import CockpitApp
from screens.tabs.mlflow_sync import MlflowSyncTab


@dataclass(frozen=True)
class Verify:
    ts: str | None  # as shown (fmt_ts); None where a consumer does not show the time
    differences: int
    runs: int
    artifacts: int
    models: int


@dataclass(frozen=True)
class Facts:
    drift: int | None  # None: no poll recorded as of the moment
    poll_ts: str | None
    verify: Verify | None  # None: no verify recorded as of the moment


def oracle(path: Path, as_of: float | None) -> Facts:
    bound = float("inf") if as_of is None else as_of
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        poll = conn.execute(
            "SELECT ts, missing, differing, versions_missing FROM mlflow_polls WHERE ts <= ? "
            "ORDER BY ts DESC, id DESC LIMIT 1",
            (bound,),
        ).fetchone()
        verify = conn.execute(
            "SELECT ts, differences, runs, artifacts, models FROM mlflow_verifications "
            "WHERE ts <= ? ORDER BY ts DESC, id DESC LIMIT 1",
            (bound,),
        ).fetchone()
    finally:
        conn.close()
    return Facts(
        drift=None if poll is None else poll[1] + poll[2] + poll[3],
        poll_ts=None if poll is None else fmt_ts(poll[0]),
        verify=None if verify is None else Verify(fmt_ts(verify[0]), *verify[1:]),
    )


# ----------------------------------------------------------------------------- the four readers
def from_gates(store: StateStore, as_of: float | None) -> Facts:
    gates = {g.id: g for g in evaluate(store, None, as_of=as_of)}
    drift_gate, verify_gate = gates["mlflow-drift"], gates["mlflow-verify"]
    if drift_gate.status == NO_DATA:
        drift = None
    elif drift_gate.status == PASS:
        assert re.fullmatch(r"drift 0 in the last \d+ polls", drift_gate.evidence)
        drift = 0
    else:
        assert drift_gate.status == FAIL
        m = re.search(
            r"latest poll: (\d+) runs missing, (\d+) differing, (\d+) model versions missing",
            drift_gate.evidence,
        )
        assert m, drift_gate.evidence
        drift = sum(int(x) for x in m.groups())
    if verify_gate.status == NO_DATA:
        verify = None
    else:
        m = re.search(
            r"last verify (?:clean|found (\d+) differences).*?\d+ experiments, (\d+) runs, "
            r"(\d+) artifacts, (\d+) models compared",
            verify_gate.evidence,
        )
        assert m, verify_gate.evidence
        assert (verify_gate.status == PASS) == (m.group(1) is None)
        verify = Verify(None, int(m.group(1) or 0), *(int(x) for x in m.groups()[1:]))
    return Facts(drift, None, verify)


def from_report(store: StateStore, as_of: float | None) -> Facts:
    markdown = to_markdown(build_report(store, None, as_of=as_of))
    start = markdown.index('<a id="mlflow"></a>')
    section = markdown[start : markdown.index("<a id=", start + 1)]
    if "No MLflow status poll recorded." in section:
        # The section stops there: it shows neither drift nor verify.
        return Facts(None, None, None)
    poll = re.search(r"Last poll (.+? UTC): .*? Drift (\d+): ", section)
    assert poll, section[:500]
    verify = re.search(
        r"Last deep verify (.+? UTC): \d+ experiments, (\d+) runs, (\d+) artifacts, (\d+) models "
        r"compared; (\d+) differences\.",
        section,
    )
    if verify is None:
        assert "No deep verify has run." in section
    return Facts(
        int(poll.group(2)),
        poll.group(1),
        None
        if verify is None
        else Verify(
            verify.group(1),
            int(verify.group(5)),
            int(verify.group(2)),
            int(verify.group(3)),
            int(verify.group(4)),
        ),
    )


def from_playbook(store: StateStore, as_of: float | None) -> Facts:
    markdown = playbook_markdown(store, None, as_of=as_of)
    line = next((x for x in markdown.splitlines() if x.startswith("MLflow copy: ")), None)
    if line is None:
        return Facts(None, None, None)
    poll = re.search(r"drift (\d+) at the last status poll \((.+? UTC)\)", line)
    return Facts(
        None if poll is None else int(poll.group(1)),
        None if poll is None else poll.group(2),
        _verify_line("last deep verify", line),
    )


def from_tab(app: CockpitApp) -> Facts:
    head = str(app.query_one("#mlf-head", Static).content)
    if head.startswith("No MLflow status poll recorded yet"):
        drift, poll_ts = None, None
    else:
        poll = re.search(r"last poll (.+? UTC) \(.*?\)\s+drift (\d+)", head)
        assert poll, head
        drift, poll_ts = int(poll.group(2)), poll.group(1)
    return Facts(drift, poll_ts, _verify_line("last verify", head))


def _verify_line(label: str, text: str) -> Verify | None:
    """'<label> <time>: clean|N differences (R runs, A artifacts, M models)' (tab and playbook)."""
    m = re.search(
        label + r" (.+? UTC): (?:clean|(\d+) differences) \((\d+) runs, (\d+) artifacts, "
        r"(\d+) models\)",
        text,
    )
    if m is None:
        return None
    return Verify(m.group(1), int(m.group(2) or 0), *(int(x) for x in m.groups()[2:]))


async def test_gates_report_tab_and_playbook_agree_at_every_step(sample_state: Path):
    store = StateStore.open(sample_state, readonly=True)
    times = sorted({event.ts for event in store.events()})
    app = CockpitApp(store=store, offline=True, tab_classes=[MlflowSyncTab])
    seen: list[float | None] = []
    facts_seen: set[Facts] = set()
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        while True:
            as_of = app.as_of
            seen.append(as_of)
            expected = oracle(sample_state, as_of)
            facts_seen.add(expected)
            where = f"as of {fmt_ts(as_of, missing='latest')}"
            assert from_tab(app) == expected, where
            assert from_report(store, as_of) == (
                expected if expected.drift is not None else Facts(None, None, None)
            ), where
            assert from_playbook(store, as_of) == expected, where
            verify = expected.verify
            assert from_gates(store, as_of) == Facts(
                expected.drift,
                None,
                None
                if verify is None
                else Verify(None, verify.differences, verify.runs, verify.artifacts, verify.models),
            ), where
            if as_of == times[0]:
                break
            await pilot.press("left_square_bracket")  # one event back
            await pilot.pause()
            assert app.as_of is not None and (as_of is None or app.as_of < as_of)
    store.close()
    # Every step of the history was visited: latest, then each earlier event time down to the first.
    assert seen == [None, *reversed(times[:-1])]
    # Not vacuous: the walk passes moments with no poll, with drift, and with and without a verify.
    assert any(f.drift is None for f in facts_seen)
    assert any(f.drift for f in facts_seen)
    assert any(f.verify is None and f.drift is not None for f in facts_seen)
    assert any(f.verify is not None for f in facts_seen)
    assert len({f.drift for f in facts_seen}) >= 3
