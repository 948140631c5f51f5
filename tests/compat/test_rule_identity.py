"""One rule per removed API: no two codes for the same function under two import spellings, the
folded codes still honoured (suppressions) and explained (`rules show`), and the rules whose
spelling or class needed care fire where they should and only there."""

from __future__ import annotations

import json

import pytest

from cockpit.compat.rules import (
    GENERATED,
    Crossing,
    aliases,
    build_crossing,
    catalog,
    folded_names,
    generated_file,
    get_rule,
    rule_for,
)
from cockpit.compat.scan import Scanner, ScanResult

DATA = generated_file("library_removals.json")
RAW = {raw["code"]: raw for raw in DATA["rules"]}
# The nine pandas functions that had one code from the reference catalog (``pandas.read_csv``)
# and another from the API diff (``pandas.io.api.read_csv``) until the rules were keyed by object.
FOLDED_PANDAS = {
    "PDA1071": ("PDA972", "pandas.io.api.read_csv"),
    "PDA1036": ("PDA974", "pandas.Series.drop"),
    "PDA1037": ("PDA975", "pandas.Series.fillna"),
    "PDA1089": ("PDA976", "pandas.core.api.DataFrame.sort_values"),
    "PDA1085": ("PDA977", "pandas.core.api.DataFrame.set_index"),
    "PDA1086": ("PDA978", "pandas.core.api.DataFrame.reset_index"),
    "PDA1087": ("PDA979", "pandas.core.api.DataFrame.dropna"),
    "PDA1088": ("PDA980", "pandas.core.api.DataFrame.drop_duplicates"),
    "PDA1044": ("PDA981", "pandas.Series.where"),
}


def _identity(raw: dict, target: str) -> tuple:
    evidence = raw["evidence"]
    return (
        raw["package"],
        raw["kind"],
        target,
        raw["keyword"],
        raw.get("max_positional"),
        evidence["present"],
    )


def test_no_two_rules_target_the_same_object():
    """``targets``: where the older release defines what each spelling names (read from the
    wheel by the generator). The same object and keyword, gone after the same release, under two
    codes would be one removal reported twice. (A re-export that one module dropped in 2.0 and
    another in 3.0 is two removals: its key differs in that release.)"""
    owner: dict[tuple, str] = {}
    clashes = []
    resolved = 0
    for code, raw in RAW.items():
        for target in raw.get("targets") or ():
            resolved += 1
            key = _identity(raw, target)
            if key in owner and owner[key] != code:
                clashes.append((owner[key], code, key))
            owner.setdefault(key, code)
    assert clashes == []
    # Every rule whose spelling the wheel resolves carries its target (most do).
    assert sum(1 for raw in RAW.values() if raw.get("targets")) > 0.95 * len(RAW)
    assert resolved >= len(RAW) * 0.95


def test_no_spelling_belongs_to_two_rules_of_one_kind():
    seen: dict[tuple, str] = {}
    for code, raw in RAW.items():
        for spelling in raw.get("symbols") or [raw["symbol"]]:
            key = (raw["kind"], spelling, raw["keyword"], raw.get("max_positional"))
            assert seen.setdefault(key, code) == code, (key, seen[key], code)


@pytest.mark.parametrize("old", sorted(FOLDED_PANDAS))
def test_the_nine_pandas_duplicates_are_one_rule_each(old):
    now, spelling = FOLDED_PANDAS[old]
    assert old not in catalog()
    assert aliases()[old][0] == now
    assert spelling in RAW[now]["symbols"]
    assert RAW[now]["ref"] == "pandas2-keyword-only-arguments"  # the catalog's code stayed


def test_retired_codes_point_at_live_rules_and_are_never_reused():
    rules = catalog()
    assert len(aliases()) > 1000
    for old, (now, why) in aliases().items():
        assert old not in rules
        assert now in rules, old
        assert why


def _scan(text: str, crossing: Crossing, rules=None) -> ScanResult:
    scanner = Scanner(crossing, rules=rules)
    result = ScanResult(scanner.crossing)
    scanner.scan_text("pipeline.py", text, "python", result)
    return result


PANDAS_2 = Crossing("a", "b", versions={"pandas": ("1.5.3", "2.2.3")})


def test_each_spelling_gives_one_finding_under_the_canonical_code():
    text = (
        "import pandas as pd\n"
        "from pandas.io.parsers import read_csv\n"
        "a = pd.read_csv('f.csv', ';')\n"
        "b = read_csv('f.csv', ';')\n"
        "c = pd.io.api.read_csv('f.csv', ';')\n"
    )
    found = sorted((f.line, f.code) for f in _scan(text, PANDAS_2).findings)
    assert found == [(3, "PDA972"), (4, "PDA972"), (5, "PDA972")]


def test_a_suppression_naming_a_folded_code_still_applies():
    text = (
        "from pandas.io.parsers import read_csv\n"
        "a = read_csv('f.csv', ';')  # cockpit: ignore[PDA1071] read with the 1.5 pin\n"
        "# cockpit: ignore[MLA062]\n"
        "b = read_csv('f.csv', ';')\n"
    )
    result = _scan(text, PANDAS_2)
    assert [(s.finding.line, s.finding.code, s.reason) for s in result.suppressed] == [
        (2, "PDA972", "read with the 1.5 pin")
    ]
    # MLA062 went into MLF101, not into PDA972: the second call is still reported.
    assert [(f.line, f.code) for f in result.findings] == [(4, "PDA972")]


def test_a_suppression_naming_a_folded_rule_by_name_still_applies():
    # PDA1071 was pandas-keyword-only-pandas-io-api-read-csv-max-1 before it went into PDA972.
    text = (
        "import pandas as pd\n"
        "a = pd.io.api.read_csv('f.csv', ';')"
        "  # cockpit: ignore[pandas-keyword-only-pandas-io-api-read-csv-max-1] pinned\n"
        "b = pd.io.api.read_csv('f.csv', ';')  # cockpit: ignore[pandas-no-such-rule]\n"
    )
    result = _scan(text, PANDAS_2)
    assert [(s.finding.line, s.finding.code, s.reason) for s in result.suppressed] == [
        (2, "PDA972", "pinned")
    ]
    assert [(f.line, f.code) for f in result.findings] == [(3, "PDA972")]
    # `rules show` finds it by that name too.
    assert get_rule("pandas-keyword-only-pandas-io-api-read-csv-max-1").code == "PDA972"


def test_every_folded_code_keeps_its_name():
    """The name each folded rule had is kept with its code, and stands for the rule(s) it went
    into (a few names were carried by one folded rule per spelling)."""
    retired = {
        code: entry
        for name in GENERATED
        for code, entry in (generated_file(name).get("retired") or {}).items()
    }
    assert retired and all(entry.get("name") for entry in retired.values())
    names = folded_names()
    for code, entry in retired.items():
        assert entry["now"] in names[entry["name"].upper()], code


def test_incidental_mlflow_imports_of_the_client_report_under_the_hand_written_code():
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml", overrides={"mlflow": ("1.30.1", None)})
    text = (
        "from mlflow.sklearn import MlflowClient\n"
        "client = MlflowClient()\n"
        "client.list_experiments()\n"
        "client.list_experiments()  # cockpit: ignore[MLA062] folded into MLF101\n"
    )
    result = _scan(text, crossing)
    assert [(f.line, f.code) for f in result.findings] == [(3, "MLF101")]
    assert [(s.finding.line, s.finding.code) for s in result.suppressed] == [(4, "MLF101")]
    assert aliases()["MLA062"][0] == "MLF101"


def test_gradcheck_called_through_the_package_is_found():
    """torch.autograd binds ``gradcheck`` to the function torch.autograd.gradcheck.gradcheck,
    shadowing the module of that name: the call users write is the function."""
    crossing = Crossing("a", "b", versions={"torch": ("2.0.1", "2.6.0")})
    text = (
        "import torch\n"
        "from torch.autograd import gradcheck\n"
        "from torch.autograd.gradcheck import gradcheck as gc\n"
        "torch.autograd.gradcheck(f, x, check_sparse_nnz=True)\n"
        "gradcheck(f, x, check_sparse_nnz=True)\n"
        "gc(f, x, check_sparse_nnz=True)\n"
        "torch.autograd.gradcheck(f, x, fast_mode=True)\n"
    )
    found = [(f.line, f.code) for f in _scan(text, crossing).findings]
    assert found == [(4, "TCH038"), (5, "TCH038"), (6, "TCH038")]


SPMATRIX = sorted(
    code for code, raw in RAW.items() if raw["symbol"].startswith("scipy.sparse.spmatrix.")
)


def test_the_spmatrix_rules_say_what_keeps_the_methods():
    assert len(SPMATRIX) == 31
    for code in SPMATRIX:
        raw = RAW[code]
        assert "csr_matrix" in raw["what"] and "does not flag them" in raw["what"], code
        for release, classes in raw["evidence"]["still_on"].items():
            assert "scipy.sparse.csr_matrix" in classes, (code, release)


def test_spmatrix_rules_flag_the_class_never_a_matrix_instance():
    """SciPy 1.11 made spmatrix a mixin: spmatrix.toarray is gone from the class (an unbound
    call or a class deriving from spmatrix alone breaks), csr_matrix(...).toarray() is not."""
    crossing = Crossing("a", "b", versions={"scipy": ("1.10.0", "1.13.1")})
    text = (
        "import scipy.sparse as sp\n"
        "from scipy.sparse import csr_matrix, spmatrix\n"
        "def dense(m: spmatrix):\n"
        "    return m.toarray(), m.tocsr(), m.nnz\n"
        "m = csr_matrix([[1]])\n"
        "a = m.toarray() + dense(m)[0] + sp.coo_matrix(m).toarray()\n"
        "b = m.sum(), m.copy(), m.transpose()\n"
        "c = sp.spmatrix.toarray(m)\n"
        "class Own(spmatrix):\n"
        "    def dense(self):\n"
        "        return self.toarray()\n"
    )
    rules = {code: catalog()[code] for code in SPMATRIX}
    found = [(f.line, f.code) for f in _scan(text, crossing, rules).findings]
    assert found == [(8, "SCP030"), (11, "SCP030")]


def test_rules_show_names_the_subclasses_that_keep_a_member(cli):
    shown = cli("rules", "show", "SCP030")
    assert shown.returncode == 0, shown.stderr
    assert "still on in scipy 1.13.1: scipy.sparse.bsr_matrix" in shown.stdout
    assert "fix:  Call toarray on the object (an instance of bsr_matrix" in shown.stdout


def test_rules_show_explains_a_folded_code(cli):
    shown = cli("rules", "show", "PDA1071")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("PDA1071 is now PDA972: the same function as PDA972")
    assert "PDA972 pandas-keyword-only-pandas-read-csv-max-1" in shown.stdout
    as_json = json.loads(cli("rules", "show", "pda1071", "--format", "json").stdout)
    assert as_json["code"] == "PDA972"
    assert as_json["folded"]["code"] == "PDA1071"


def test_rules_list_names_the_folded_codes(cli):
    listed = json.loads(cli("rules", "list", "--format", "json").stdout)
    codes = {r["code"] for r in listed["rules"]}
    retired = {r["code"]: r["now"] for r in listed["retired"]}
    assert retired["PDA1071"] == "PDA972"
    assert not codes & set(retired)
    assert set(retired.values()) <= codes
    table = cli("rules", "list")
    assert "older codes were folded into the rules above" in table.stdout


def test_readers_of_stored_codes_reach_the_rule_a_folded_code_went_into():
    """Findings and items recorded before a fold name the old code: the playbook and the
    checklist's detail pane still find its fix text."""
    assert rule_for("MLA062").code == "MLF101"
    assert rule_for("PDA1071").code == "PDA972"
    assert rule_for("MLF101").code == "MLF101"
    assert rule_for("XYZ999") is None
