"""Publishing: the Pages workflow runs the README's test command, then builds strictly and deploys."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"


class _AnyTagLoader(yaml.SafeLoader):
    """A safe loader that reads tagged values (`!ENV [...]`, `!!python/name:...`) as their plain values."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    return loader.construct_scalar(node)


_AnyTagLoader.add_multi_constructor("!", _untagged)
_AnyTagLoader.add_multi_constructor("tag:yaml.org,2002:python/", _untagged)


def load(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_AnyTagLoader)  # a SafeLoader


def steps_using(job: dict, action: str) -> list[dict]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(action + "@")]


def test_the_workflow_tests_builds_and_deploys_on_a_push_to_main() -> None:
    workflow = load(WORKFLOW)
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in triggers
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}

    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    runs = [step.get("run", "") for step in build["steps"]]
    assert runs.index("make test") < runs.index("make site"), "test first, then build"
    test_step = build["steps"][runs.index("make test")]
    assert test_step.get("env", {}).get("CI") == "true", "a missing browser must fail the run, not skip"
    site_step = build["steps"][runs.index("make site")]
    assert site_step["env"]["SITE_URL"] == "${{ steps.pages.outputs.base_url }}/"
    assert [step["id"] for step in steps_using(build, "actions/configure-pages")] == ["pages"]
    assert [step["with"]["path"] for step in steps_using(build, "actions/upload-pages-artifact")] == ["site"]

    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    assert len(steps_using(deploy, "actions/deploy-pages")) == 1


def test_make_site_is_strict_and_make_test_installs_the_browser() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    site_recipe = re.search(r"^site:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE).group(1)
    assert "mkdocs build --strict" in site_recipe
    assert "--site-dir site" in site_recipe
    test_recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE).group(1)
    assert test_recipe.index("scripts/install-browser.sh") < test_recipe.index("pytest")


def test_links_are_validated_at_build_time_under_a_project_path() -> None:
    config = load(ROOT / "mkdocs.yml")
    assert config["strict"] is True
    assert config["validation"] == {
        "omitted_files": "warn",
        "absolute_links": "warn",
        "unrecognized_links": "warn",
        "anchors": "warn",
    }
    environment_variable, default = config["site_url"]
    assert environment_variable == "SITE_URL"
    assert re.fullmatch(r"https://[^/]+/[^/]+/", default), "a project path, as GitHub Pages serves it"
