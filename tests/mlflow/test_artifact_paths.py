"""Artifact paths: what is refused, and URLs no client library can collapse."""

from __future__ import annotations

import pytest
import requests
from urllib3.util import parse_url

from cockpit.mlflow import artifact_paths
from cockpit.mlflow.artifact_paths import UnsafeArtifactPath, checked, refusal, url_path

BASE = "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty path"),
        ("../x", "'..' segment"),
        ("a/../../b", "'..' segment"),
        ("a/./b", "'.' segment"),
        ("a/..", "'..' segment"),
        ("/etc/passwd", "absolute path"),
        ("a//b", "empty path segment"),
        ("a/", "empty path segment"),
        ("a\\..\\b", "backslash in the path"),
        ("C:/Windows", "drive-letter path"),
        ("a\x00b", "control character in the path"),
        ("a\x1b[2Jb", "control character in the path"),
        ("a\x9bb", "control character in the path"),
        ("x" * 1025, "longer than 1024 characters"),
    ],
)
def test_paths_that_leave_the_run_are_refused(path, reason):
    assert refusal(path) == reason
    with pytest.raises(UnsafeArtifactPath) as info:
        checked(path, where="run r1")
    assert info.value.exit_code == 1 and "\x1b" not in info.value.message


@pytest.mark.parametrize(
    "path", ["model/MLmodel", "plots/résumé ü.txt", "...", "a..b/c", "%2e%2e/x", "weird name?#.txt"]
)
def test_plain_relative_paths_pass_and_stay_one_path_on_the_wire(path):
    assert checked(path) == path
    url = BASE + url_path("1/abc/artifacts", path)
    # What requests sends, after urllib3's own normalisation (RFC 3986 dot-segment removal).
    sent = parse_url(requests.Request("PUT", url).prepare().url).path
    assert sent == parse_url(url).path
    assert sent.startswith("/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/")
    assert sent.count("/") == url.count("/") - 2  # nothing collapsed, nothing added


def test_url_path_refuses_before_encoding_and_quotes_each_segment():
    with pytest.raises(UnsafeArtifactPath):
        url_path("1/abc/artifacts", "../../../2/def/artifacts/model.pkl")
    assert url_path("1/a", "b c/d?e") == "1/a/b%20c/d%3Fe"
    assert artifact_paths.join("", "x") == "x" and artifact_paths.join("a", "x") == "a/x"


def test_why_checking_on_the_server_is_not_enough():
    # The encoding the copy used before: requests removes the dot segments before sending, so
    # the server is asked for another run's file and never sees a '..' to refuse.
    from urllib.parse import quote

    naive = BASE + quote("1/abc/artifacts/../../../2/def/artifacts/model.pkl", safe="/")
    sent = parse_url(requests.Request("PUT", naive).prepare().url).path
    assert sent == "/api/2.0/mlflow-artifacts/artifacts/2/def/artifacts/model.pkl"
