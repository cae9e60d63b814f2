"""The LP #2119987 patch the lab amphora's fixed templater applies (tests/lab/amphora/patches):
what it names and what it changes, read from the file itself (no Octavia needed; that it
applies to octavia 14.0.2 and gives the fixed values is tests/integration/test_lab_templaters)."""

from __future__ import annotations

import pytest

from tests.lab.amphora import releases


def _patch_lines() -> tuple[list[str], list[str]]:
    """The patch's header (before its first ``diff``) and its diff lines."""
    lines = releases.PATCH.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("diff --git "))
    return lines[:first], lines[first:]


def test_the_header_names_the_upstream_commit_its_title_and_the_bug():
    # Act
    header, _ = _patch_lines()
    text = "\n".join(header)

    # Assert
    assert f"Upstream commit: {releases.PATCH_COMMIT}" in text
    assert f"Title: {releases.PATCH_TITLE}" in text
    assert "LP #2119987" in header[0]


def test_it_changes_one_file_in_one_hunk_and_only_the_cache_formula():
    # Act
    _, diff = _patch_lines()
    files = [line for line in diff if line.startswith(("--- ", "+++ "))]
    hunks = [line for line in diff if line.startswith("@@ ")]
    removed = [line[1:].strip() for line in diff[4:] if line.startswith("-")]
    added = [line[1:].strip() for line in diff[4:] if line.startswith("+")]

    # Assert: the 1/2 -> 2/5 share, the 4000 -> 5000 KiB floor, 5 -> 4 entries per KiB.
    assert files == [f"--- a/{releases.PATCHED_FILE}", f"+++ b/{releases.PATCHED_FILE}"]
    assert len(hunks) == 1
    assert len(removed) == len(added)
    code = [(r, a) for r, a in zip(removed, added, strict=True) if not r.startswith("#")]
    assert code == [
        ('mem["cached"] - max_conn_mem_kb) // 2', 'mem["cached"] - max_conn_mem_kb) * 2 // 5'),
        ("if ssl_cache_mem_kb > 4000:", "if ssl_cache_mem_kb > 5000:"),
        (
            'jinja_dict["ssl_cache"] = ssl_cache_mem_kb * 5',
            'jinja_dict["ssl_cache"] = ssl_cache_mem_kb * 4',
        ),
    ]


@pytest.mark.parametrize("name", ["", "patched", "FIXED", "17.0.1"])
def test_an_unknown_templater_is_refused_by_name(name: str):
    # Act / Assert
    with pytest.raises(ValueError, match="vulnerable, fixed, upstream"):
        releases.check_templater(name)


def test_the_upstream_templater_is_named_by_its_release():
    # Act / Assert: no lab venv needed for the release that is not the venv's own.
    assert releases.describe("upstream") == "upstream: octavia 17.0.1 as released"
