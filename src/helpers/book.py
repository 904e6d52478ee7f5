"""The runner: execute chapters with a profile, record times and memory, build the book.

Usage (``make book`` and ``make test`` call these)::

    python -m helpers.book run     --profile full  [--chapters 01,02] [--set n_train=300 ...]
    python -m helpers.book build   --profile full
    python -m helpers.book prepare --profile smoke --out _build/nbval
    python -m helpers.book pack    --profile full  [--out FILE]
    python -m helpers.book fetch   URL-or-FILE     [--sha256 HEX]

Before anything runs, the parameters of every selected chapter are checked against the chapter's
parameters cell (:func:`check_parameters`): a name the cell does not define, or a value of another
type than the cell's default (or its annotation, such as ``n_test: "Optional[int]" = 1000``), is
refused with the valid names. ``--set NAME=VALUE`` (VALUE read as YAML) overrides the profile for
every selected chapter and is checked the same way.

``run`` executes ``notebooks/NN_name.ipynb`` through papermill with the parameters of
``params/<profile>.yaml`` into ``_build/run/<profile>/notebooks/``, and merges into
``_build/run/<profile>/run.json`` the wall time and peak memory (resident set of the kernel and
every process it starts, sampled) of each chapter, with the package versions and the hardware.
Each chapter saves its claims into ``_build/run/<profile>/claims/``.

``build`` stages the book (``_config.yml``, ``_toc.yml``, ``book/`` and the executed notebooks in
place of the sources, so that launch buttons point at the notebooks in the repository), writes
the scorecard and reproducibility tables, and runs ``jupyter-book build`` with warnings as
errors into ``_build/html``.

``pack`` writes a profile's trained networks as one archive with a manifest, and ``fetch``
verifies such an archive and installs it into the cache (:mod:`helpers.archive`).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import papermill
import psutil
import yaml

from . import archive
from .cache import PROFILES, ArtifactCache
from .claims import INCONCLUSIVE, RUN_DIR_ENV, Claim, load_claims
from .paths import project_root

REPORTED_PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "gudhi", "giotto-ph", "ripser", "persim",
                     "captum", "kmapper", "matplotlib", "seaborn", "papermill", "jupyter-book", "sphinx",
                     "myst-nb")
STAGED = ("_config.yml", "_toc.yml", "book")


def chapters(root: Path | None = None) -> list[Path]:
    """The chapter notebooks, in order: ``notebooks/NN_*.ipynb``."""
    return sorted(((root or project_root()) / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def select_chapters(selection: str, root: Path | None = None) -> list[Path]:
    """``"all"`` or a comma-separated list of chapter numbers or names (``"01,03_filter..."``)."""
    available = chapters(root)
    if selection == "all":
        return available
    chosen = []
    for item in (s.strip() for s in selection.split(",") if s.strip()):
        matches = [path for path in available if path.stem == item or path.stem.split("_")[0] == item]
        if not matches:
            raise ValueError(f"no chapter {item!r}; available: {[p.stem for p in available]}")
        chosen.extend(matches)
    return chosen


def profile_parameters(profile: str, chapter: str, root: Path | None = None) -> dict[str, Any]:
    """Papermill parameters of ``chapter`` under ``profile`` (always including ``profile``)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    path = (root or project_root()) / "params" / f"{profile}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"profile file {path} is missing")
    table = yaml.safe_load(path.read_text()) or {}
    return {**(table.get(chapter) or {}), "profile": profile}


_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict, "tuple": tuple,
          "NoneType": type(None)}


def _annotation_types(annotation: str) -> tuple[type, ...]:
    """The types an annotation of a parameters cell allows: a name of :data:`_TYPES`, a
    subscripted container (``list[int]``: a list), ``Optional[X]`` or ``Union[X, Y]``."""
    text = annotation.strip()
    wrapper = re.fullmatch(r"(Optional|Union)\[(.*)\]", text)
    if wrapper:
        parts = [part for part in re.split(r",(?![^\[]*\])", wrapper.group(2)) if part.strip()]
        types = tuple(t for part in parts for t in _annotation_types(part))
        return types + ((type(None),) if wrapper.group(1) == "Optional" else ())
    name = re.sub(r"\[.*\]$", "", text)
    if name not in _TYPES:
        raise ValueError(f"cannot check the annotation {annotation!r}; use {sorted(_TYPES)}, "
                         f"Optional[...] or Union[...]")
    return (_TYPES[name],)


def chapter_parameters(notebook: Path) -> dict[str, tuple[Any, tuple[type, ...]]]:
    """The parameters cell of ``notebook``: ``{name: (default, allowed types)}``. The allowed
    types come from the name's annotation when it has one, else from its default's type."""
    declared = {}
    for name, parameter in papermill.inspect_notebook(str(notebook)).items():
        try:
            default = ast.literal_eval(parameter["default"])
        except (ValueError, SyntaxError) as error:
            raise ValueError(f"{notebook.name}: the default of parameter {name!r} "
                             f"({parameter['default']}) is not a literal") from error
        annotation = parameter["inferred_type_name"]
        types = _annotation_types(annotation) if annotation != "None" else (type(default),)
        declared[name] = (default, types)
    return declared


def _has_type(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # a bool is an int to isinstance, never to a parameters cell
        return bool in types
    return isinstance(value, types) or (isinstance(value, int) and float in types)


def check_parameters(notebook: Path, values: dict[str, Any], source: str) -> None:
    """Refuse ``values`` (from ``source``, e.g. ``params/full.yaml``) unless every name is a
    parameter of ``notebook`` and every value has the type its parameters cell declares."""
    declared = chapter_parameters(notebook)
    for name, value in values.items():
        if name not in declared:
            close = difflib.get_close_matches(name, declared, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{source} sets {name!r}, which {notebook.stem} has no parameter for{hint}; "
                             f"its parameters: {', '.join(sorted(declared))}")
        default, types = declared[name]
        if not _has_type(value, types):
            expected = " or ".join(t.__name__ for t in types)
            raise TypeError(f"{source} sets {name}={value!r} ({type(value).__name__}) for {notebook.stem}, "
                            f"whose parameter {name} is {expected} (default {default!r})")


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["n_train=300", "seeds=[0, 1]"]`` -> ``{"n_train": 300, "seeds": [0, 1]}`` (values read as YAML)."""
    overrides = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise ValueError(f"--set {item!r}: expected NAME=VALUE, e.g. --set n_train=300")
        overrides[name.strip()] = yaml.safe_load(value)
    return overrides


def checked_parameters(notebook: Path, profile: str, overrides: dict[str, Any] | None = None,
                       root: Path | None = None) -> dict[str, Any]:
    """The parameters ``notebook`` runs with: ``profile``'s, then ``overrides``; both checked
    with :func:`check_parameters`."""
    if "profile" in (overrides or {}):
        raise ValueError("--set profile=...: the profile is chosen with --profile, not overridden")
    parameters = profile_parameters(profile, notebook.stem, root)
    check_parameters(notebook, parameters, f"params/{profile}.yaml")
    check_parameters(notebook, overrides or {}, "--set")
    return {**parameters, **(overrides or {})}


def run_folder(profile: str, root: Path | None = None) -> Path:
    return (root or project_root()) / "_build" / "run" / profile


class PeakMemory:
    """Samples the summed resident memory of this process's descendants (the kernel and its
    workers) in a background thread; ``peak_bytes`` is the largest sum seen."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def use_this_environment_kernel() -> None:
    """Make the kernel named ``python3`` this interpreter's: the kernel spec that ``make``
    installs into the virtual environment comes before any user-wide one on the search path."""
    own = str(Path(sys.prefix) / "share" / "jupyter")
    paths = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p and p != own]
    os.environ["JUPYTER_PATH"] = os.pathsep.join([own, *paths])


def execute_chapter(notebook: Path, parameters: dict[str, Any], root: Path | None = None) -> dict[str, Any]:
    """Execute one chapter with checked ``parameters`` (:func:`checked_parameters`); returns its
    record (parameters, seconds, peak memory, new artifacts)."""
    root = root or project_root()
    profile = parameters["profile"]
    folder = run_folder(profile, root)
    output = folder / "notebooks" / notebook.name
    output.parent.mkdir(parents=True, exist_ok=True)
    os.environ[RUN_DIR_ENV] = str(folder)
    os.environ.setdefault("TOPOCNN_ROOT", str(root))
    use_this_environment_kernel()
    print(f"[{profile}] {notebook.stem}: executing with {parameters}", flush=True)
    artifacts_before = ArtifactCache(profile).count()
    start = time.perf_counter()
    with PeakMemory() as memory:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name="python3",
                                   cwd=str(notebook.parent), progress_bar=False, log_output=False)
    seconds = time.perf_counter() - start
    print(f"[{profile}] {notebook.stem}: {seconds:.1f} s, peak memory {memory.peak_bytes / 2**30:.2f} GiB",
          flush=True)
    return {"chapter": notebook.stem, "parameters": parameters, "seconds": round(seconds, 1),
            "peak_memory_gib": round(memory.peak_bytes / 2**30, 3),
            "new_artifacts": ArtifactCache(profile).count() - artifacts_before,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def environment_record() -> dict[str, Any]:
    """Python, package versions, the Rips backend the chapters use and hardware of this machine."""
    import torch

    from .topology import rips_backend

    versions = {}
    for name in REPORTED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": _processor_name(),
        "cpu_cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "gpu": gpu,
        "torch_threads": torch.get_num_threads(),
        "rips_backend": rips_backend(),
        "packages": versions,
        "data_variable": "set: offline copies" if os.environ.get("TOPOCNN_DATA") else "unset: data sets downloaded",
        "commit": _git_commit(),
    }


def _processor_name() -> str:
    """The CPU model (from /proc/cpuinfo on Linux), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _git_commit() -> str:
    """Short hash of HEAD, with ``+changes`` when tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=project_root()).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        return commit + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(profile: str, selection: str = "all", overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check the parameters of the selected chapters, then execute them and merge their records
    into ``run.json``."""
    root = project_root()
    selected = select_chapters(selection, root)
    parameters = {notebook: checked_parameters(notebook, profile, overrides, root) for notebook in selected}
    folder = run_folder(profile, root)
    record_path = folder / "run.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {"chapters": {}}
    record.update(profile=profile, environment=environment_record())
    for notebook in selected:
        record["chapters"][notebook.stem] = execute_chapter(notebook, parameters[notebook], root)
        folder.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps(record, indent=2))
    return record


def prepare(profile: str, out: Path, selection: str = "all") -> list[Path]:
    """Write the chapters with ``profile``'s parameters injected, not executed (for nbval)."""
    root = project_root()
    selected = select_chapters(selection, root)
    parameters = {notebook: checked_parameters(notebook, profile, root=root) for notebook in selected}
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in selected:
        target = out / notebook.name
        papermill.execute_notebook(str(notebook), str(target), parameters=parameters[notebook], prepare_only=True,
                                   kernel_name="python3", progress_bar=False)
        written.append(target)
    return written


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    clean = [[str(cell).replace("|", "\\|").replace("\n", " ") for cell in row] for row in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in clean]) + "\n"


def worked_example(claim: Claim) -> str:
    """How the rules read one recorded claim: its effect, interval, threshold and verdict."""
    if claim.rule.startswith("Holm"):
        how = "its parts were tested one-sided with Holm's correction (the row shows the weakest part)"
    else:
        how = "its 95% interval is compared with zero and with the threshold"
    return (f"*Worked example* (chapter {int(claim.chapter[:2])}, \"{claim.name}\"): the run measured "
            f"{claim.effect} (n = {claim.n}); the threshold of interest is {claim.smallest_effect}; {how}, "
            f"giving **{claim.verdict}**. An experiment of this size detects, with 80% power, effects of "
            f"{claim.detectable} and more.\n")


def scorecard_markdown(claims: list[Claim], profile: str) -> str:
    """The scorecard table: one row per claim (paper, ours, the judged effect with its 95%
    interval, the smallest effect of interest, the detectable effect, n, the control, the
    verdict), the counts of each verdict, and a worked example on the first inconclusive claim."""
    if not claims:
        return f"No chapter has recorded claims yet under the `{profile}` profile.\n"
    counts = {v: sum(c.verdict == v for c in claims) for v in sorted({c.verdict for c in claims})}
    summary = ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
    def chapter(claim: Claim) -> str:
        return f"{{doc}}`{int(claim.chapter[:2])} <../notebooks/{claim.chapter}>`"

    verdicts = _markdown_table(
        ["ch.", "claim", "verdict", "effect [95% interval]", "threshold of interest", "detectable", "n", "control"],
        [[chapter(c), c.name, f"**{c.verdict}**" + (" (not testable here)" if c.untestable else ""), c.effect, c.smallest_effect, c.detectable,
          "" if c.n is None else str(c.n), c.control] for c in claims])
    details = _markdown_table(
        ["ch.", "claim", "paper", "this book", "rule, note"],
        [[chapter(c), c.name, c.paper_value, c.our_value,
          "; ".join(part for part in (c.untestable and f"not testable here: {c.untestable}", c.rule, c.note) if part)]
         for c in claims])
    example = next((c for c in claims if c.verdict == INCONCLUSIVE and c.effect), None) or claims[0]
    return (f"Profile `{profile}`: {len(claims)} claims, {summary}.\n\n{worked_example(example)}\n"
            f":::{{div}} full-width\n{verdicts}:::\n\n## What each claim measured\n\n"
            f"The paper's value, this book's measurement, why a claim could not be tested here (if so), the rule "
            f"that judged it and the chapter's note.\n\n"
            f":::{{div}} full-width\n{details}:::\n")


def reproducibility_markdown(record: dict[str, Any]) -> str:
    """Profile, per-chapter times and memory, hardware and package versions of the run."""
    env = record["environment"]
    chapter_rows = [[name, f"{c['seconds']:.0f}", f"{c['peak_memory_gib']:.2f}",
                     c.get("new_artifacts", "not recorded"), c["finished"]]
                    for name, c in sorted(record["chapters"].items())]
    total = sum(c["seconds"] for c in record["chapters"].values())
    hardware = [["Python", env["python"]], ["platform", env["platform"]], ["processor", env["processor"]],
                ["CPU cores", env["cpu_cores"]], ["memory (GiB)", env["memory_gib"]], ["GPU", env["gpu"]],
                ["torch threads", env["torch_threads"]],
                ["Rips backend", env.get("rips_backend", "not recorded")], ["TOPOCNN_DATA", env["data_variable"]],
                ["commit", env["commit"]]]
    packages = [[name, version] for name, version in env["packages"].items()]
    return "\n".join([
        f"Profile of this build: **`{record['profile']}`**. Total chapter time {total / 60:.1f} minutes.\n",
        "### Chapters\n",
        "*New artifacts* counts the trained models and results a chapter added to the artifact "
        "cache: 0 means it ran from a warm cache and its time excludes training.\n",
        _markdown_table(["chapter", "wall time (s)", "peak memory (GiB)", "new artifacts", "finished (UTC)"],
                        chapter_rows),
        "### Hardware\n", _markdown_table(["", "this run"], hardware),
        "### Packages\n", _markdown_table(["package", "version"], packages),
    ])


def stage(profile: str, root: Path | None = None) -> Path:
    """Assemble the book source in ``_build/book-src`` from the repository and the run."""
    root = root or project_root()
    folder = run_folder(profile, root)
    record_path = folder / "run.json"
    if not record_path.exists():
        raise FileNotFoundError(f"no run of profile {profile!r} found at {record_path}: "
                                f"run `python -m helpers.book run --profile {profile}` first")
    staging = root / "_build" / "book-src"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in STAGED:
        source = root / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, staging / name)
    (staging / "notebooks").mkdir()
    for notebook in chapters(root):
        executed = folder / "notebooks" / notebook.name
        if not executed.exists():
            raise FileNotFoundError(f"chapter {notebook.stem} has not been run with profile {profile!r} "
                                    f"({executed} missing): run `python -m helpers.book run --profile {profile} "
                                    f"--chapters {notebook.stem[:2]}`")
        shutil.copy2(executed, staging / "notebooks" / notebook.name)
    generated = staging / "book" / "_generated"
    generated.mkdir(exist_ok=True)
    (generated / "scorecard.md").write_text(scorecard_markdown(load_claims(folder), profile))
    (generated / "reproducibility.md").write_text(reproducibility_markdown(json.loads(record_path.read_text())))
    return staging


def build(profile: str) -> Path:
    """Stage and build the HTML book into ``_build/html`` (warnings are errors)."""
    root = project_root()
    staging = stage(profile, root)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jupyter_book), "build", str(staging), "--path-output", str(staging), "-W",
                    "--keep-going"], check=True)
    html = root / "_build" / "html"
    shutil.rmtree(html, ignore_errors=True)
    shutil.copytree(staging / "_build" / "html", html)
    print(f"book written to {html / 'index.html'}")
    return html


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.book", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "build", "prepare", "pack"):
        command = commands.add_parser(name)
        command.add_argument("--profile", choices=PROFILES, default="full")
        if name in ("run", "prepare"):
            command.add_argument("--chapters", default="all", help="'all' or e.g. '01,03'")
        if name == "run":
            command.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="overrides",
                                 help="override a parameter of every selected chapter (VALUE read as YAML)")
        if name == "prepare":
            command.add_argument("--out", type=Path, required=True)
        if name == "pack":
            command.add_argument("--out", type=Path, help="the archive (default: _build/artifacts/...)")
    fetch = commands.add_parser("fetch")
    fetch.add_argument("source", help="an archive written by `pack`: a file or an http(s):// or file:// URL")
    fetch.add_argument("--sha256", help="the archive's expected SHA-256")
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.profile, args.chapters, parse_overrides(args.overrides))
    elif args.command == "build":
        build(args.profile)
    elif args.command == "prepare":
        prepare(args.profile, args.out, args.chapters)
    elif args.command == "pack":
        archive.pack(args.profile, args.out)
    else:
        archive.fetch(args.source, args.sha256)


if __name__ == "__main__":
    main()
