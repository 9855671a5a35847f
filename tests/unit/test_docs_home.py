"""The docs home (docs/index.md) summarises the reference pages in a line each: the summaries are
held to their pages, so a page that changes cannot leave its summary behind (the home once listed
the exit statuses without 74 and said the checkpoint was written after every epoch)."""

from __future__ import annotations

import re

from helpers.paths import REPO

from fcnn_cli import errors
from fcnn_cli.config import schema

DOCS = REPO / "docs"


def summaries(section: str) -> dict[str, str]:
    """The home's bullets under `## section`: linked page -> its summary, on one line."""
    text = (DOCS / "index.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    found = {}
    for bullet in re.split(r"\n(?=- \[)", body.strip()):
        match = re.match(r"- \[[^\]]+\]\(([^)#]+)[^)]*\): (.*)", bullet, re.S)
        if match:
            found[match.group(1)] = " ".join(match.group(2).split())
    return found


def statuses(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\b\d+\b", text)}


def test_the_homes_exit_statuses_are_the_pages_and_the_tables():
    summary = summaries("Reference")["reference/exit-status.md"]
    page = (DOCS / "reference" / "exit-status.md").read_text()
    in_page = set().union(*(statuses(row) for row in re.findall(r"^\| ([\d, ]+) \|", page, re.M)))
    in_table = set().union(*(statuses(status.status) for status in errors.EXIT_STATUSES))
    assert statuses(summary) == in_page == in_table
    assert 74 in in_table


def test_the_homes_checkpoint_line_says_when_the_pages_do():
    summary = summaries("Reference")["reference/checkpoint-file.md"]
    page = (DOCS / "reference" / "run-directory.md").read_text()
    row = re.search(r"^\| `checkpoint\.npz` \| (.*?): ", page, re.M)
    assert row, "run-directory.md has no checkpoint.npz row"
    when = row.group(1)  # "rewritten at the end of an epoch (every `checkpoint.every_s` ...)"
    assert when in summary, (when, summary)
    own_page = " ".join((DOCS / "reference" / "checkpoint-file.md").read_text().split())
    assert when in own_page
    for key in re.findall(r"`([a-z_]+\.[a-z_.]+)`", when):
        assert key in schema.KEYS, key


def test_every_name_in_a_reference_summary_is_on_its_page():
    for page, summary in summaries("Reference").items():
        text = (DOCS / page).read_text()
        for code in re.findall(r"`([^`]+)`", summary):
            assert code in text, (page, code)
