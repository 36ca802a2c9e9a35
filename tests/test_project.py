"""What a newcomer reads (README, Makefile, CI script, docker-compose) agrees with the code."""

from __future__ import annotations

import re
import subprocess

from service.settings import PROJECT_ROOT, Settings, documented


def readme() -> str:
    return (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    first_block = readme().split("```")[1]
    assert "make run" in first_block and "make test" in first_block


def test_every_setting_is_documented_in_the_readme() -> None:
    table = readme().split("<!-- settings -->")[1].split("<!-- /settings -->")[0]
    listed = set(re.findall(r"^\| `([A-Z_]+)` \|", table, flags=re.M))
    assert listed == set(documented())


def test_every_setting_has_a_help_text_and_reads_from_the_environment() -> None:
    for name, help_text in documented().items():
        assert len(help_text) > 10, name
    settings = Settings.from_env({"PORT": "9001", "CORS_ORIGINS": "https://a.example, "})
    assert settings.port == 9001
    assert settings.cors_origins == ("https://a.example",)


def test_make_help_lists_run_and_test() -> None:
    out = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for target in ("run", "test", "lint", "openapi", "bench"):
        assert f"make {target}" in out


def test_ci_runs_make_test() -> None:
    script = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in script and "set -euo pipefail" in script


def test_no_absolute_paths_of_a_machine_in_tracked_files() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = []
    for name in tracked:
        path = PROJECT_ROOT / name
        if path.suffix in {".py", ".toml", ".md", ".yml", ".yaml", ".json", ".cfg", ""}:
            if path.is_file() and re.search(r"/(work|root|home)/\w", path.read_text("utf-8")):
                offenders.append(name)
    assert offenders == []
