"""Publishing: the Pages workflow runs the README's test command, then builds strictly and deploys."""

from __future__ import annotations

import re
import subprocess
import sys
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
    assert workflow["permissions"] == {}, "nothing for the whole workflow: each job asks for its own"

    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    runs = [step.get("run", "") for step in build["steps"]]
    assert runs.index("make test") < runs.index("make site"), "test first, then build"
    test_step = build["steps"][runs.index("make test")]
    assert test_step.get("env", {}).get("CI") == "true", "a missing browser must fail the run, not skip"
    site_step = build["steps"][runs.index("make site")]
    assert site_step["env"]["SITE_URL"] == "${{ steps.pages.outputs.base_url }}/"
    assert site_step["env"]["REPO_URL"] == "${{ github.server_url }}/${{ github.repository }}"
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
    assert test_recipe.index("scripts/install-browser.sh") < test_recipe.index("$(PYTEST)")
    # make test and make test-fast run the same pytest: parallel workers, a module kept on one worker.
    pytest_command = re.search(r"^PYTEST\s*:=\s*(.*)$", makefile, re.MULTILINE).group(1)
    assert "-m pytest -n $(JOBS) --dist loadscope" in pytest_command
    fast_recipe = re.search(r"^test-fast:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE).group(1)
    assert fast_recipe.strip() == '$(PYTEST) -m "not site and not kernels"'


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
    # The repository and "edit this page" links: configurable the same way.
    assert config["repo_url"][0] == "REPO_URL"
    assert config["edit_uri"][0] == "EDIT_URI"
    assert "content.action.edit" in config["theme"]["features"]


# `owner/repo@<40 hex digits>  # vX.Y.Z` (or `owner/repo/path@...`): a full commit SHA and the release it is.
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(?:\.\d+){0,2}\b")


def test_the_workflow_is_valid_against_the_github_workflow_schema() -> None:
    """Offline: check-jsonschema ships the schema of GitHub workflows (pinned in requirements.lock)."""
    check_jsonschema = Path(sys.executable).parent / "check-jsonschema"
    completed = subprocess.run(
        [str(check_jsonschema), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_each_job_holds_only_the_permissions_it_needs() -> None:
    workflow = load(WORKFLOW)
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert set(jobs) == {"build", "deploy"}
    # The build job runs the tests and every third-party package: read the repository, nothing else.
    assert jobs["build"]["permissions"] == {"contents": "read"}
    # Deploying to Pages needs these two (actions/deploy-pages' README), nothing else.
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}


def uses_lines(text: str) -> list[tuple[str, str]]:
    """Each `uses:` of a workflow: (what it references, the rest of its line, i.e. its comment)."""
    found = re.findall(r"^\s*(?:-\s+)?uses:\s*([^\s#]+)(.*)$", text, re.MULTILINE)
    return [(reference.strip("'\""), rest) for reference, rest in found]


def unpinned_actions(text: str) -> list[str]:
    return [
        f"{reference}{rest}"
        for reference, rest in uses_lines(text)
        if not reference.startswith(("./", "docker://"))  # local actions and images are no tag
        and not (PINNED_ACTION.match(reference) and VERSION_COMMENT.search(rest))
    ]


def test_every_action_is_pinned_by_a_full_commit_sha_with_its_version() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    workflow = load(WORKFLOW)
    referenced = [step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step]
    assert len(referenced) == len(uses_lines(text)) == 5, "every `uses:` is seen by the line scan"
    assert not unpinned_actions(text)


def test_the_pin_check_fails_on_a_tag_alone() -> None:
    """The check above could fail: a tag, a short SHA, or a SHA with no version comment are refused."""
    assert unpinned_actions("      - uses: actions/checkout@v6\n") == ["actions/checkout@v6"]
    assert unpinned_actions("    uses: actions/deploy-pages@v5.0.0  # v5.0.0\n")
    assert unpinned_actions("    uses: actions/deploy-pages@cd2ce8f  # v5.0.0\n")
    assert unpinned_actions("    uses: actions/deploy-pages@cd2ce8fcbc39b97be8ca5fce6e763baed58fa128\n")
    assert not unpinned_actions("    uses: actions/deploy-pages@cd2ce8fcbc39b97be8ca5fce6e763baed58fa128  # v5.0.0\n")


def test_the_workflow_runs_exactly_what_make_test_and_make_site_run() -> None:
    """CI and a contributor run the same commands: the build job's only shell steps are the two make targets.

    Nothing is re-typed in YAML (a copy would drift from the Makefile); the targets' recipes are checked
    above (strict build, browser installed before pytest).
    """
    workflow = load(WORKFLOW)
    build = workflow["jobs"]["build"]
    runs = [step["run"].strip() for step in build["steps"] if "run" in step]
    assert runs == ["make test", "make site"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z]+):", makefile, re.MULTILINE))
    assert {"test", "site"} <= targets
    assert not [step for step in workflow["jobs"]["deploy"]["steps"] if "run" in step], "deploy runs no code of ours"
