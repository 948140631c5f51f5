"""Terminal and Markdown injection (issue 11, item 6): names from scanned trees, state files and
servers reach no terminal with a control sequence and no Markdown reader as HTML or a link.

Markdown is judged by rendering it with markdown-it-py (CommonMark + GFM tables), as a viewer
would, not by looking for strings in the source."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from cockpit import textsafe
from cockpit.document.model import Document, Links, Section
from cockpit.document.render import to_html, to_markdown
from cockpit.store import StateStore

# ESC[2J clears the screen; OSC 52 writes the clipboard; OSC 8 makes a link; U+202E reverses;
# U+009B is the one-byte CSI of C1.
HOSTILE = "ev\x1b[2J\x1b]52;c;aGk=\x07il\u202e\u009b<img src=x onerror=alert(1)>`|[x](javascript:y)"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
MD = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def one_cell(cell: str) -> str:
    """The inner HTML of the single body cell of a one-column GFM table holding ``cell``."""
    rendered = MD.render(f"| h |\n|---|\n| {cell} |\n")
    cells = re.findall(r"<td>(.*?)</td>", rendered, re.S)
    assert len(cells) == 1, rendered
    return cells[0]


text_with_everything = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("`|\\*_[]()<>&!#~-+.1 \n\t\r\x1b\x07\x9b\u202e\u2028")),
        st.characters(),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(text_with_everything)
def test_md_text_renders_as_the_same_literal_text(value: str):
    cell = one_cell(textsafe.md_text(value))
    assert "<" not in cell.replace("&lt;", "")  # no tag at all: no HTML, no link, no emphasis
    assert html.unescape(cell) == textsafe.terminal(value).strip()


@settings(max_examples=300, deadline=None)
@given(text_with_everything)
def test_md_code_is_one_code_span_with_the_exact_text(value: str):
    if not textsafe.terminal(value):
        assert textsafe.md_code(value) == ""
        return
    cell = one_cell(textsafe.md_code(value))
    spans = re.fullmatch(r"<code>(.*)</code>", cell, re.S)
    assert spans, cell
    assert html.unescape(spans.group(1)) == textsafe.terminal(value)


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.text() | st.integers() | st.none(), lambda c: st.lists(c, max_size=3)))
def test_json_keeps_exact_values_and_shows_no_control(value):
    text = textsafe.json_text({"v": value})
    assert json.loads(text) == {"v": value}
    assert not UNSAFE.search(text) and "\u2028" not in text


def test_terminal_escapes_controls_visibly_and_markup_escapes_tags():
    assert textsafe.terminal("a\x1b[2Jb\u202ec") == "a\\x1b[2Jb\\u202ec"
    assert textsafe.terminal("a\nb") == "a\\x0ab"
    assert textsafe.terminal("a\r\nb\tc\rd\n", multiline=True) == "a\r\nb\tc\\x0dd\n"
    from rich.text import Text

    shown = Text.from_markup(f"[bold]{textsafe.markup('[link=https://x]y[/link] [/]')}[/]")
    assert shown.plain == "[link=https://x]y[/link] [/]" and not shown.spans[1:]


def test_links_only_for_safe_schemes():
    for bad in ("javascript:alert(1)", " JaVaScRiPt:x", "data:text/html,x", "//evil", "vbscript:x"):
        assert textsafe.safe_url(bad) is None, bad
        assert "](" not in textsafe.md_link("label", bad)
    assert textsafe.md_link("PR", "https://github.com/x/y/pull/1") == (
        "[PR](<https://github.com/x/y/pull/1>)"
    )
    assert textsafe.safe_url("https://e.com/a b)<>") == "https://e.com/a%20b%29%3C%3E"


def test_report_links_refuse_javascript_in_markdown_and_html():
    doc = Document("t", "s", "now")
    doc.sections.append(
        Section("Links", "links").add(
            Links((("evil", "javascript:alert(1)"), ("ok", "https://docs.databricks.com/x")))
        )
    )
    rendered = MD.render(to_markdown(doc))
    assert 'href="https://docs.databricks.com/x"' in rendered
    assert 'href="javascript' not in rendered
    page = to_html(doc)
    assert 'href="javascript' not in page and 'href="https://docs.databricks.com/x"' in page


def _hostile_tree(root: Path) -> Path:
    root.mkdir()
    evil = root / f"{HOSTILE.replace('/', '_')}.py"
    evil.write_text("import mlflow\nmlflow.list_experiments()\n")
    return evil


def test_check_table_markdown_and_json_of_a_hostile_file_name(tmp_path: Path, cli):
    evil = _hostile_tree(tmp_path / "tree")
    args = ("check", str(tmp_path / "tree"), "--mlflow-from", "1.30.1")
    table = cli(*args, env={"COLUMNS": "300"})
    assert table.returncode == 1, table.stderr
    assert "MLF101" in table.stdout and "\\x1b]52;c;aGk=\\x07" in table.stdout
    assert not UNSAFE.search(table.stdout)  # not a TTY: rich adds no ESC of its own either
    md = cli(*args, "--format", "markdown")
    assert md.returncode == 1
    rendered = MD.render(md.stdout)
    assert "<img" not in rendered and 'href="javascript' not in rendered
    assert not UNSAFE.search(md.stdout)
    # The table keeps its five columns: neither the "|" nor the backtick in the name broke it.
    rows = re.findall(r"<tr>(.*?)</tr>", rendered, re.S)
    assert len(rows) == 2 and all(len(re.findall(r"<t[dh]", r)) == 5 for r in rows)
    assert html.unescape(re.findall(r"<code>(.*?)</code>", rendered)[0]).startswith(
        textsafe.terminal(str(evil))
    )
    data = json.loads(cli(*args, "--format", "json").stdout)
    assert data["findings"][0]["path"] == str(evil)  # JSON keeps the exact name


def test_fix_diff_headers_and_left_alone_lines_show_no_control(tmp_path: Path, cli):
    _hostile_tree(tmp_path / "tree")
    result = cli("fix", str(tmp_path / "tree"), "--mlflow-from", "1.30.1")
    assert result.returncode == 0, result.stderr
    assert "+++ b/" in result.stdout and "search_experiments" in result.stdout
    assert not UNSAFE.search(result.stdout) and not UNSAFE.search(result.stderr)


def test_cli_error_line_shows_no_control(tmp_path: Path, cli):
    result = cli("check", str(tmp_path / "no\x1b]52;c;aGk=\x07such"))
    assert result.returncode == 2
    assert "no such file or folder" in result.stderr and not UNSAFE.search(result.stderr)


def test_playbook_markdown_of_hostile_notes(tmp_path: Path, cli):
    path = tmp_path / "p.db"
    with StateStore.open(path, create=True) as store:
        store.set_meta("migration.name", "m")
        store.append_event(
            "compat.checklist.note",
            {
                "pipeline": HOSTILE,
                "by": "eve",
                "note": f"see [here](javascript:alert(1)) {HOSTILE}",
            },
        )
    result = cli("--state", str(path), "playbook")
    assert result.returncode == 0, result.stderr
    rendered = MD.render(result.stdout)
    assert "<img" not in rendered and 'href="javascript' not in rendered
    assert not UNSAFE.search(result.stdout)
    assert "see [here](javascript:alert(1))" in html.unescape(rendered)  # shown, as text
