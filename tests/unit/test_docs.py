"""The README and the manual in docs/ hold together: every relative link and #anchor resolves
(on GitHub and on the mkdocs site alike), every `make X` and `fcnn X` they name exists, the
mkdocs nav lists every page, every figure is shown somewhere, no page names a path of the
machine it was written on (/tmp/...), and the README stays short.

No network, no subprocess: the pages are read as text, the Makefile too, and the command table
is imported (a light import)."""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml

from fcnn_cli.commands import COMMANDS

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"
MKDOCS = REPO / "mkdocs.yml"
MAKEFILE = REPO / "Makefile"

README_MAX_BYTES = 10_240
MIN_DOC_PAGES = 8

PAGES = [README, *sorted(DOCS.rglob("*.md"))]


def _id(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


# --- reading Markdown ------------------------------------------------------------------------

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def split_code(text: str) -> tuple[list[str], list[str]]:
    """The page's prose lines (code blocks blanked out) and its code blocks (fenced and
    indented), each block as one string."""
    prose: list[str] = []
    blocks: list[str] = []
    fence: str | None = None
    indented: list[str] | None = None
    previous_blank = True
    for line in text.splitlines():
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            else:
                blocks[-1] += line + "\n"
            prose.append("")
            continue
        opening = FENCE.match(line)
        if opening:
            fence = opening.group(1)
            blocks.append("")
            prose.append("")
            indented = None
            previous_blank = False
            continue
        is_indented = line.startswith(("    ", "\t")) and line.strip() != ""
        if is_indented and (indented is not None or previous_blank):
            if indented is None:
                indented = []
                blocks.append("")
            blocks[-1] += line.strip() + "\n"
            indented.append(line)
            prose.append("")
            continue
        if line.strip() and indented is not None:
            indented = None
        prose.append(line)
        previous_blank = line.strip() == ""
    return prose, blocks


def code_texts(text: str) -> list[str]:
    """Every piece of code on the page: fenced and indented blocks (without their shell
    comments, which are prose), and inline code spans."""
    prose, blocks = split_code(text)
    blocks = [re.sub(r"(?m)(^|\s)#.*$", "", block) for block in blocks]
    spans = [m.group(2) for m in CODE_SPAN.finditer("\n".join(prose))]
    return blocks + spans


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every inline link and image outside code."""
    prose, _ = split_code(text)
    # Code spans may run over a line break: blank them out in the whole text, keeping the lines.
    prose_text = CODE_SPAN.sub(lambda m: "code" + "\n" * m.group(0).count("\n"), "\n".join(prose))
    found = []
    for number, line in enumerate(prose_text.split("\n"), start=1):
        found += [(number, m.group(1)) for m in LINK.finditer(line)]
    return found


def heading_texts(text: str) -> list[str]:
    """The text of every ATX heading outside code, as it is rendered (markup removed)."""
    prose, _ = split_code(text)
    texts = []
    for line in prose:
        m = HEADING.match(line)
        if m:
            title = m.group(2)
            title = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", title)          # images
            title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)      # links: their text
            title = re.sub(r"<[^>]+>", "", title)                        # HTML tags
            title = title.replace("`", "")
            texts.append(title.strip())
    return texts


def github_slug(title: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped (not hyphens, underscores
    or spaces), each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def mkdocs_slug(title: str) -> str:
    """Python-Markdown's (mkdocs') anchor for a heading: ASCII only, runs of spaces and hyphens
    folded into one hyphen."""
    value = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def anchors(path: Path) -> dict[str, str]:
    """GitHub's anchor of every heading of a page (duplicates get -1, -2, ...), mapped to the
    anchor the mkdocs site gives the same heading (duplicates get _1, _2, ...)."""
    found: dict[str, str] = {}
    seen_github: dict[str, int] = {}
    seen_mkdocs: dict[str, int] = {}
    for title in heading_texts(path.read_text(encoding="utf-8")):
        github, site = github_slug(title), mkdocs_slug(title)
        if github in seen_github:
            seen_github[github] += 1
            github = f"{github}-{seen_github[github]}"
        else:
            seen_github[github] = 0
        if site in seen_mkdocs:
            seen_mkdocs[site] += 1
            site = f"{site}_{seen_mkdocs[site]}"
        else:
            seen_mkdocs[site] = 0
        found[github] = site
    return found


def make_targets() -> set[str]:
    targets = set()
    for line in MAKEFILE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([^\s:#=][^:=]*?)\s*:(?![:=])", line)
        if m:
            targets.update(m.group(1).split())
    return targets


MAKE_CALL = re.compile(r"(?<![\w.-])make((?:[ \t]+(?:-\S+|[A-Za-z_][A-Za-z0-9_]*=\S*))*)[ \t]+"
                       r"([A-Za-z0-9_.][A-Za-z0-9_.-]*)")
FCNN_CALL = re.compile(r"(?<![\w.-])fcnn[ \t]+([a-z][a-z0-9_-]*)")


# --- the tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_relative_links_resolve(page: Path):
    text = page.read_text(encoding="utf-8")
    broken = []
    for number, target in links(text):
        if SCHEME.match(target) or target.startswith("//"):
            continue
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        where = f"{_id(page)}:{number}: {target}"
        if not dest.exists():
            broken.append(f"{where}: no such file")
            continue
        if not anchor:
            continue
        if dest.suffix != ".md":
            broken.append(f"{where}: an anchor into a file that is not a Markdown page")
            continue
        known = anchors(dest)
        if anchor not in known:
            broken.append(f"{where}: no heading with that anchor in {_id(dest)} "
                          f"(it has: {', '.join(sorted(known))})")
        elif known[anchor] != anchor:
            broken.append(f"{where}: the mkdocs site names that heading #{known[anchor]}; reword the "
                          f"heading so GitHub and the site agree")
    assert not broken, "\n".join(broken)


# A path on the machine that measured or wrote something: nobody else has it.
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:tmp|work|home|root|scratch)/[\w.-]")


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_no_page_names_a_machines_own_path(page: Path):
    found = [f"{_id(page)}:{n}: {line.strip()}"
             for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1)
             if MACHINE_PATH.search(line)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_make_targets_named_exist(page: Path):
    targets = make_targets()
    named = {m.group(2) for code in code_texts(page.read_text(encoding="utf-8"))
             for m in MAKE_CALL.finditer(code)}
    missing = sorted(named - targets)
    assert not missing, f"{_id(page)} names make targets the Makefile lacks: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_fcnn_subcommands_named_exist(page: Path):
    named = {m.group(1) for code in code_texts(page.read_text(encoding="utf-8"))
             for m in FCNN_CALL.finditer(code)}
    missing = sorted(named - set(COMMANDS))
    assert not missing, f"{_id(page)} names fcnn subcommands that do not exist: {missing}"


def test_readme_is_short():
    size = README.stat().st_size
    assert size <= README_MAX_BYTES, f"README.md is {size:,} bytes; the limit is {README_MAX_BYTES:,}"


def test_readme_starts_with_the_setup_commands():
    lines = [line for line in README.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert lines[0].startswith("# "), lines[0]
    assert lines[1].split("#")[0].split() == ["make", "run"], lines[1]
    assert lines[2].split("#")[0].split() == ["make", "test"], lines[2]


def test_docs_have_enough_pages():
    pages = sorted(DOCS.rglob("*.md"))
    assert len(pages) >= MIN_DOC_PAGES, [_id(p) for p in pages]


def _nav_pages(entry) -> list[str]:
    if isinstance(entry, str):
        return [entry]
    if isinstance(entry, list):
        return [page for item in entry for page in _nav_pages(item)]
    if isinstance(entry, dict):
        return [page for value in entry.values() for page in _nav_pages(value)]
    return []


def test_mkdocs_nav_lists_every_page():
    config = yaml.safe_load(MKDOCS.read_text(encoding="utf-8"))
    assert config["docs_dir"] == "docs"
    listed = _nav_pages(config["nav"])
    duplicated = sorted({page for page in listed if listed.count(page) > 1})
    assert not duplicated, f"mkdocs.yml lists these pages more than once: {duplicated}"
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert not on_disk - set(listed), f"pages missing from mkdocs.yml's nav: {sorted(on_disk - set(listed))}"
    assert not set(listed) - on_disk, f"mkdocs.yml's nav lists missing pages: {sorted(set(listed) - on_disk)}"


def test_every_figure_is_shown():
    shown = set()
    for page in PAGES:
        for _, target in links(page.read_text(encoding="utf-8")):
            if not SCHEME.match(target):
                shown.add((page.parent / target.partition("#")[0]).resolve())
    figures = sorted(DOCS.rglob("*.png"))
    hidden = [_id(f) for f in figures if f.resolve() not in shown]
    assert not hidden, f"figures no page shows: {hidden}"


# --- the checks themselves can fail ----------------------------------------------------------

def test_slugs_follow_github_and_mkdocs():
    assert github_slug("Tasks (task=...)") == "tasks-task"
    assert github_slug("Problem 5.4: Adam versus SGD (make p5.4)") == "problem-54-adam-versus-sgd-make-p54"
    assert github_slug("Grouping: --group-by") == "grouping---group-by"
    assert mkdocs_slug("Grouping: --group-by") == "grouping-group-by"


def test_the_checks_catch_what_is_wrong(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Same\n\n## Same\n\nSee [x](#same-1), [y](other.md), "
                    "`[not](a-link.md)`.\n\n    make nothing-such   # fcnn on the PATH\n\n"
                    "```\nfcnn nosuch\n```\n", encoding="utf-8")
    text = page.read_text(encoding="utf-8")
    assert [target for _, target in links(text)] == ["#same-1", "other.md"]
    assert anchors(page) == {"title": "title", "same": "same", "same-1": "same_1"}
    code = "\n".join(code_texts(text))
    assert [m.group(2) for m in MAKE_CALL.finditer(code)] == ["nothing-such"]
    assert [m.group(1) for m in FCNN_CALL.finditer(code)] == ["nosuch"]
    assert "nothing-such" not in make_targets() and "docs" in make_targets()


def test_the_site_builds_strictly(tmp_path: Path):
    """`make docs`' build: mkdocs-material, offline, every warning an error."""
    mkdocs = Path(sys.executable).with_name("mkdocs")
    if not mkdocs.exists():
        pytest.skip("mkdocs is not installed (the test extras install it)")
    result = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "reference" / "config.html").is_file()
