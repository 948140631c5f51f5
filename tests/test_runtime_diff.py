"""The diff engine: edge cases of versions, names and severities, and the reference migration."""

from __future__ import annotations

import datetime as dt

import pytest

from cockpit.runtimes.diff import classify, diff_runtimes, short_system_value
from cockpit.runtimes.manifest import bundled_ids, load_bundled, manifest_from_json


def manifest(libs: dict[str, str], **extra):
    return manifest_from_json(
        {"python_libraries": libs, **extra}, id=extra.pop("id", "x"), origin="import"
    )


@pytest.mark.parametrize(
    ("old", "new", "kind", "severity", "bump"),
    [
        (None, "1.0", "added", "info", None),
        ("1.0", None, "removed", "breaking", None),
        ("1.0", "1.0", "unchanged", "none", None),
        ("1.0", "1.0.0", "unchanged", "none", None),  # equal under PEP 440
        ("1.2.3", "2.0.0", "upgraded", "breaking", "major"),
        ("1.2.3", "1.3.0", "upgraded", "notable", "minor"),
        ("1.2.3", "1.2.4", "upgraded", "info", "patch"),
        ("0.28.1", "0.29.0", "upgraded", "breaking", "minor"),  # 0.x minor: no promise
        ("1.3.1", "1.2.0", "downgraded", "notable", "minor"),
        ("1.2.4", "1.2.3", "downgraded", "notable", "patch"),
        ("2.0.1+cpu", "2.0.1+cu118", "upgraded", "info", "local"),
        ("1.10.0", "1.9.0", "downgraded", "notable", "minor"),  # numeric, not string, order
        ("2.0.0rc1", "2.0.0", "upgraded", "info", "patch"),
        ("2.12.15 or 2.13.10", "2.13.16", "changed", "notable", None),  # not PEP 440
    ],
)
def test_classify(old, new, kind, severity, bump):
    got_kind, got_severity, got_bump, reason = classify(old, new, "somepkg")
    assert (got_kind, got_severity, got_bump) == (kind, severity, bump)
    if kind != "unchanged":
        assert reason


def test_torch_minor_is_breaking_by_its_own_policy():
    kind, severity, bump, reason = classify("2.0.1+cpu", "2.6.0+cpu", "torch")
    assert (kind, severity, bump) == ("upgraded", "breaking", "minor")
    assert "pytorch" in reason.lower() and "https://" in reason


def test_names_are_normalised_per_pep_503():
    old = manifest({"Scikit_Learn": "1.3.0", "ruamel.yaml": "0.17"})
    new = manifest({"scikit-learn": "1.4.0", "ruamel-yaml": "0.17"})
    diff = diff_runtimes(old, new, today=dt.date(2026, 1, 1))
    by_name = {lib.name: lib for lib in diff.libraries}
    assert set(by_name) == {"scikit-learn", "ruamel-yaml"}
    assert by_name["scikit-learn"].kind == "upgraded"
    assert by_name["ruamel-yaml"].kind == "unchanged"


def test_empty_manifests_and_unknown_system_values():
    diff = diff_runtimes(manifest({}), manifest({}, system={"python": "3.12.3"}))
    assert diff.libraries == ()
    python = next(s for s in diff.system if s.component == "python")
    assert python.changed is False  # unknown on one side is not a change
    assert diff.behavior_changes == ()


def test_filters():
    diff = diff_runtimes(
        manifest({"a": "1.0", "b": "1.0", "c": "1.0"}), manifest({"a": "2.0", "b": "1.0"})
    )
    assert [x.name for x in diff.filtered("breaking")] == ["a", "c"]
    assert [x.name for x in diff.filtered("changed")] == ["a", "c"]
    assert len(diff.filtered(None)) == 3


def test_short_system_values():
    assert short_system_value("java", "Zulu 8.74.0.17-CA-linux64") == "8"
    assert short_system_value("java", "Zulu17.54+21-CA") == "17"
    assert short_system_value("os", "Ubuntu 22.04.3 LTS") == "Ubuntu 22.04"
    assert short_system_value("python", None) is None


def test_every_bundled_manifest_loads_with_sources():
    assert len(bundled_ids()) == 10
    for runtime_id in bundled_ids():
        m = load_bundled(runtime_id)
        assert m.sources, runtime_id
        assert m.python_libraries, runtime_id
        assert m.end_of_support, runtime_id
        for change in m.behavior_changes:
            assert change.source.startswith("https://"), (runtime_id, change.title)


def test_reference_migration_14_3_to_16_4_ml():
    diff = diff_runtimes(
        load_bundled("14.3-lts-ml"), load_bundled("16.4-lts-ml"), today=dt.date(2026, 11, 26)
    )
    system = {s.component: s for s in diff.system}
    assert (system["python"].old, system["python"].new) == ("3.10.12", "3.12.3")
    assert (system["os"].old_short, system["os"].new_short) == ("Ubuntu 22.04", "Ubuntu 24.04")
    assert (system["java"].old_short, system["java"].new_short) == ("8", "17")
    libs = {lib.name: lib for lib in diff.libraries}
    assert libs["horovod"].kind == "removed" and libs["horovod"].severity == "breaking"
    assert (libs["torch"].old, libs["torch"].new, libs["torch"].severity) == (
        "2.0.1+cpu",
        "2.6.0+cpu",
        "breaking",
    )
    assert (libs["mlflow-skinny"].old, libs["mlflow-skinny"].new) == ("2.9.2", "2.21.3")
    assert (libs["numpy"].old, libs["numpy"].new) == ("1.23.5", "1.26.4")
    assert libs["pandas"].kind == "unchanged"
    # Behaviour changes of 15.4 and 16.4 (the releases in (14.3, 16.4]), none of 14.3's own.
    releases = {b.release for b in diff.behavior_changes}
    assert releases == {"15.4", "16.4"}
    titles = [b.title for b in diff.behavior_changes]
    assert len(titles) == len(set(titles))
    assert any("JDK 17" in t for t in titles)
    runway = {r.runtime_id: r for r in diff.runway}
    assert runway["14.3-lts-ml"].end_of_support == "2027-02-01"
    assert runway["16.4-lts-ml"].days_left == (dt.date(2028, 5, 9) - dt.date(2026, 11, 26)).days


def test_diff_the_other_way_round_mirrors_kinds():
    a, b = load_bundled("14.3-lts-ml"), load_bundled("16.4-lts-ml")
    forward = {x.name: x.kind for x in diff_runtimes(a, b).libraries}
    backward = {x.name: x.kind for x in diff_runtimes(b, a).libraries}
    mirror = {
        "added": "removed",
        "removed": "added",
        "upgraded": "downgraded",
        "downgraded": "upgraded",
    }
    for name, kind in forward.items():
        assert backward[name] == mirror.get(kind, kind)
    assert diff_runtimes(b, a).behavior_changes == ()  # going back crosses no release forward


@pytest.mark.parametrize(
    "name", ["Scikit_Learn", "ruamel.yaml", "A--B__c..D", "torch", "Foo-_-Bar"]
)
def test_canonical_names_agree_with_packaging(name):
    from packaging.utils import canonicalize_name as reference

    from cockpit.runtimes.manifest import canonicalize_name

    assert canonicalize_name(name) == reference(name)
