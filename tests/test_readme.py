"""The README's commands and the documents' links and paths exist; the README stays short.

Nothing here runs the pipeline: `edgeline` command lines are parsed by the CLI's own
parser in-process, `make` targets are looked up in the Makefile, paths on disk.
"""

import contextlib
import io
import pathlib
import re
import shlex

import pytest

from cli import edgeline

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_MAX_LINES = 250
# Documents whose shell blocks, links and inline paths are checked.
DOCUMENTS = (README, ROOT / "CONTRIBUTING.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md")))
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
# Top-level directories a command writes rather than reads (a run, a build, the venv).
GENERATED = {"runs", "build", ".venv", ".cache"}
# The repository's own top-level directories: a path starting with one of them must exist.
REPO_DIRS = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")} - GENERATED
SEPARATORS = {"&&", "||", "|", ";"}
PLACEHOLDER = re.compile(r"[<>*{}$]")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
INLINE_PATH = re.compile(r"`([\w.-]+(?:/[\w.-]+)+/?)`")


def _rel(path: pathlib.Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _shell_lines(document: pathlib.Path) -> list[tuple[int, str]]:
    """(line number, command line) of every fenced shell block, continuation lines joined."""
    found, language, pending, start = [], None, "", 0
    for number, line in enumerate(document.read_text().splitlines(), 1):
        fence = re.match(r"^\s*```\s*([\w-]*)", line)
        if fence:
            language = None if language is not None else fence.group(1).lower()
            continue
        if language not in SHELL_LANGUAGES:
            continue
        line = line.strip().removeprefix("$ ")
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        if (pending + line).strip():
            found.append((start, pending + line))
        pending = ""
    return found


def _commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line, without comments and leading VAR=value assignments."""
    commands, current = [], []
    for token in [*shlex.split(line, comments=True), ";"]:
        if token in SEPARATORS:
            while current and re.match(r"^[A-Za-z_]\w*=", current[0]):
                current.pop(0)
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    return commands


def _makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_-]+)\s*:(?!=)", text, re.M))


def _parse_cli(args: list[str]) -> str | None:
    """None when `edgeline ARGS` parses, else argparse's complaint."""
    parser = edgeline._build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    if not args or args[0] not in subcommands:
        return f"no edgeline subcommand {args[:1]}; the CLI has {sorted(subcommands)}"
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(args)
    except SystemExit as e:
        if e.code:
            return stderr.getvalue().strip().splitlines()[-1]
    return None


def _missing_paths(tokens: list[str]) -> list[str]:
    """Tokens (or the value of KEY=VALUE / --opt=VALUE) naming a repository path that does not exist."""
    missing = []
    for token in tokens:
        for candidate in {token, token.split("=", 1)[-1]}:
            parts = candidate.split("/")
            if len(parts) < 2 or parts[0] not in REPO_DIRS or PLACEHOLDER.search(candidate) or " " in candidate:
                continue
            if not (ROOT / candidate).exists():
                missing.append(candidate)
    return missing


def _problems(command: list[str]) -> list[str]:
    program, args = command[0], command[1:]
    problems = [f"{path}: no such file or directory in the repository" for path in _missing_paths(args)]
    if pathlib.PurePosixPath(program).name == "edgeline":
        problem = _parse_cli(args)
        if problem:
            problems.append(f"edgeline {' '.join(args[:1])}: {problem}")
    elif program == "make":
        settings = dict(a.split("=", 1) for a in args if "=" in a)
        targets = [a for a in args if "=" not in a and not a.startswith("-")]
        for target in sorted(set(targets) - _makefile_targets()):
            problems.append(f"make {target}: no such target in the Makefile")
        if "RUN_ARGS" in settings and "run" in targets:
            problem = _parse_cli(["run", *shlex.split(settings["RUN_ARGS"])])
            if problem:
                problems.append(f"make run RUN_ARGS: {problem}")
        for name in ("PYTEST_ARGS", "BENCH_ARGS", "RUN_ARGS"):
            problems += [f"{name}: {p}: no such file" for p in _missing_paths(shlex.split(settings.get(name, "")))]
    elif re.fullmatch(r"python(3(\.\d+)?)?", pathlib.PurePosixPath(program).name) and "-m" in args:
        module = args[args.index("-m") + 1]
        if module.split(".")[0] in REPO_DIRS:
            base = ROOT / module.replace(".", "/")
            if not (base.with_suffix(".py").exists() or (base / "__main__.py").exists()):
                problems.append(f"python -m {module}: no such module in the repository")
    return problems


def _all_commands():
    for document in DOCUMENTS:
        for number, line in _shell_lines(document):
            for command in _commands(line):
                yield pytest.param(command, id=f"{_rel(document)}:{number}:{command[0].rsplit('/', 1)[-1]}")


def test_readme_is_a_few_screens():
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (at most {README_MAX_LINES}): move details to docs/ and link them"
    )


def test_readme_shows_the_commands_it_promises():
    commands = [c for _, line in _shell_lines(README) for c in _commands(line)]
    programs = {pathlib.PurePosixPath(c[0]).name for c in commands}
    assert {"make", "edgeline"} <= programs, f"README.md shell blocks hold only {sorted(programs)}"
    targets = {a for c in commands if c[0] == "make" for a in c[1:] if "=" not in a}
    assert {"run", "test"} <= targets


@pytest.mark.parametrize("command", list(_all_commands()))
def test_documented_command_exists(command):
    problems = _problems(command)
    assert not problems, f"`{shlex.join(command)}`: " + "; ".join(problems)


@pytest.mark.parametrize("document", DOCUMENTS, ids=_rel)
def test_links_point_at_files(document):
    broken = []
    for target in LINK.findall(document.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL or an anchor in the same page
        path = target.split("#", 1)[0]
        if not (document.parent / path).exists():
            broken.append(target)
    assert not broken, f"{_rel(document)} links to missing files: {broken}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=_rel)
def test_inline_repository_paths_exist(document):
    missing = sorted(set(_missing_paths(INLINE_PATH.findall(document.read_text()))))
    assert not missing, f"{_rel(document)} names repository paths that do not exist: {missing}"


# A measured figure in a table cell: a number with a unit of time, size, speed-up or accuracy points.
MEASURED = re.compile(r"\d(?:[\d,]*\.?\d*)\s?(?:ms|s/GB|MB|KB|GB|×|pt\b|points?\b)")


def test_readme_figure_tables_are_rendered_from_the_committed_results():
    """Every figure table is what bench/results.json renders, figure by figure, with the CPU it came from."""
    from bench import readme_tables

    found = readme_tables.blocks(README.read_text())
    expected = readme_tables.committed()
    assert sorted(found) == sorted(expected), "README.md lacks a generated table's markers"
    for name, lines in expected.items():
        assert found[name] == lines, (
            f"README.md's {name} differs from bench/results.json: run python -m bench.readme_tables"
        )


def test_no_figure_table_outside_the_generated_ones():
    from bench import readme_tables

    text = README.read_text()
    for block in readme_tables.blocks(text).values():
        text = text.replace("\n".join(block), "")
    hand_made = [line for line in text.splitlines() if line.startswith("|") and MEASURED.search(line)]
    assert hand_made == [], "README.md tables quote figures no committed result renders"


def test_the_tables_follow_the_results_and_name_each_rows_cpu():
    """A changed figure changes the README's table; each row names the CPU it recorded, or says it did not."""
    import copy
    import json

    from bench import readme_tables

    results = json.loads(readme_tables.RESULTS.read_text())
    int8 = results["rows"]["P3"]["detail"]["variants"]["int8"]
    changed = copy.deepcopy(results)
    changed["rows"]["P3"]["detail"]["variants"]["int8"]["accuracy_delta_points"] = -0.72
    before, after = readme_tables.edge_table(results), readme_tables.edge_table(changed)
    assert [line for line in before if line.startswith("| `int8`")] != [line for line in after if "`int8`" in line]
    assert f"| {int8['accuracy_delta_points']:+.2f} |".replace("-", "−") in next(
        line for line in before if line.startswith("| `int8`")
    )
    bench = readme_tables.bench_table(results, None)
    p3 = next(line for line in bench if line.startswith("| P3 "))
    assert "| AVX-512 VNNI |" in p3  # P3's kernel row recorded avx512_vnni
    p1 = next(line for line in bench if line.startswith("| P1 "))
    assert "| CPU not recorded |" in p1
    changed["rows"]["P1"]["cpu_flags"] = ["avx2", "fma"]
    assert "| AVX2 without VNNI |" in next(
        line for line in readme_tables.bench_table(changed, None) if line.startswith("| P1 ")
    )


def test_requirements_name_the_litert_release_constraints_pin():
    pinned = re.search(r"^ai-edge-litert==([\d.]+)$", (ROOT / "constraints.txt").read_text(), re.M).group(1)
    comment = [
        line for line in (ROOT / "requirements.txt").read_text().splitlines() if re.search(r"\d+\.\d+\.\d+", line)
    ]
    named = {
        v
        for line in comment
        for v in re.findall(r"\b(\d+\.\d+\.\d+)\b", line)
        if "litert" in line.lower() or "wheel" in line
    }
    assert named == {pinned}, f"requirements.txt names LiteRT {sorted(named)}; constraints.txt pins {pinned}"
