"""The security team's host list: subdomain matching and clear errors for a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.urls import hosts


def test_shipped_list_matches_subdomains_only_on_label_boundaries() -> None:
    lists = hosts.load()
    assert lists.categories("bit.ly") == ["url_shortener"]
    assert lists.categories("www.bit.ly") == ["url_shortener"]
    assert lists.categories("notbit.ly") == []
    assert lists.categories("evil.z13.web.core.windows.net") == ["free_hosting"]
    assert lists.categories("www.dropbox.com") == ["file_sharing"]
    assert lists.categories("example.com") == []


@pytest.mark.parametrize(("text", "message"), [
    ("- just a list\n", "expected a mapping"),
    ("shorteners: [a.b]\n", r"unknown list\(s\) shorteners"),
    ("url_shortener: a.b\n", "expected a list of hosts"),
    ("url_shortener: [unclosed\n", "URL host list"),
])
def test_bad_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_text(text)
    with pytest.raises(hosts.HostListError, match=message):
        hosts.load(str(path))
    with pytest.raises(hosts.HostListError, match="hosts-missing"):
        hosts.load(str(tmp_path / "hosts-missing.yaml"))
