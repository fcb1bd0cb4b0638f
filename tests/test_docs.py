"""The documentation holds together: every section of the old README has a home, every relative link
resolves (file and anchor), the README stays a user's page, and the package index page has no relative links."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted([REPO / "README.md", REPO / "CHANGELOG.md", REPO / "benchmarks" / "README.md",
                *(REPO / "docs").glob("*.md"), *(REPO / "benchmarks" / "results").glob("*.md")])

# Every heading of the README as it was at aa55075 (1,574 lines), and where that text lives now.
HOMES = [
    ('pix2pix', "README.md#pix2pix"),
    ('Quick start', "docs/getting-started.md#quick-start"),
    ('Usage', "docs/getting-started.md#usage"),
    ('Example: the facades', "docs/getting-started.md#example-the-facades"),
    ('Data', "docs/data.md#data"),
    ('Models and losses', "docs/methods.md#models-and-losses"),
    ('Options from later work', "docs/methods.md#options-from-later-work"),
    ('Quality: the recipe', "benchmarks/results/recipe.md#quality-the-recipe"),
    ('Training', "docs/configuration.md#training"),
    ('Multi-GPU, multi-node: torchrun', "docs/operations.md#multi-gpu-multi-node-torchrun"),
    ('Faults and bad input', "docs/operations.md#faults-and-bad-input"),
    ('Datasets', "docs/data.md#datasets"),
    ('Watching training: health monitor, report, TensorBoard', "docs/operations.md#watching-training-health-monitor-report-tensorboard"),
    ('Evaluation', "docs/evaluation.md#evaluation"),
    ('CycleGAN: unpaired collections', "docs/methods.md#cyclegan-unpaired-collections"),
    ('Tasks from photos alone', "docs/photo-tasks.md#tasks-from-photos-alone"),
    ('CUT: unpaired, one generator', "docs/methods.md#cut-unpaired-one-generator"),
    ('CUT against CycleGAN, measured', "docs/methods.md#cut-against-cyclegan-measured"),
    ('Inference mode: `inference.norm`', "docs/deployment.md#inference-mode-inferencenorm"),
    ('Use a trained model anywhere', "docs/deployment.md#use-a-trained-model-anywhere"),
    ('Python API', "docs/deployment.md#python-api"),
    ('Export', "docs/deployment.md#export"),
    ('Import from the research code', "docs/deployment.md#import-from-the-research-code"),
    ('Server and drawing page', "docs/deployment.md#server-and-drawing-page"),
    ('Performance', "benchmarks/results/performance.md#performance"),
    ('Inference speed: the defaults', "benchmarks/results/performance.md#inference-speed-the-defaults"),
    ('Command reference', "docs/configuration.md#command-reference"),
    ('Development', "docs/architecture.md#development"),
    ('Architecture', "docs/architecture.md#architecture"),
]


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    found: set[str] = set()
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"^#+ (.*)$", line)
        if match:
            base = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            name, n = base, 0
            while name in found:
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # not inside code blocks
    return [url for url in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"^(https?:|mailto:|data:)", url)]


@pytest.mark.parametrize("heading, home", HOMES, ids=[h for h, _ in HOMES])
def test_every_old_readme_heading_has_a_home(heading: str, home: str):
    file, _, anchor = home.partition("#")
    assert (REPO / file).is_file(), home
    assert anchor in anchors(REPO / file), f"{heading!r}: no anchor #{anchor} in {file}"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_every_relative_link_resolves(page: Path):
    for url in relative_links(page):
        file, _, anchor = url.partition("#")
        target = (page.parent / file).resolve() if file else page
        assert target.exists(), f"{page.relative_to(REPO)}: broken link {url}"
        if anchor and target.suffix == ".md":
            assert anchor in anchors(target), f"{page.relative_to(REPO)}: no anchor #{anchor} in {file or page.name}"


def test_the_readme_is_a_users_page_and_the_package_page_has_no_relative_links():
    assert len((REPO / "README.md").read_text().splitlines()) <= 250
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    package_page = REPO / project["readme"]
    assert relative_links(package_page) == [] and "](" not in package_page.read_text()


def test_the_link_checker_finds_a_broken_link_and_a_missing_anchor(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## A section\n\n[ok](#a-section) [gone](missing.md) [bad](#nope)\n```\n[code](x.md)\n```\n")
    assert relative_links(page) == ["#a-section", "missing.md", "#nope"]
    assert anchors(page) == {"title", "a-section"}
