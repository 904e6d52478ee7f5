"""The kinds of cached artifact, the library code that makes each, and its hash.

Every artifact in :class:`helpers.cache.ArtifactCache` has a *kind*. A kind names the modules
that compute it (:data:`KINDS`); the code that makes it is those modules and every module of the
library they import, directly or not, except the modules that only present or store results
(:data:`NOT_ARTIFACT_CODE`: verdicts, figures, the runner, the cache and its worker processes). The *code hash* of a kind
is a hash of the source of that code less docstrings, comment lines and blank lines, so an edit
to what a module computes changes the hash, and with it every cache key of the kind, while an
edit to its documentation does not. The kinds that are not trained networks are computed in a
chapter's cell by library functions: their code hash covers those functions' modules, and the
configuration the chapter passes covers the rest.

``python -m helpers.kinds`` prints each kind with its code hash and modules;
``python -m helpers.kinds --digest`` prints one hash of all kinds (CI keys its artifact cache
with it). This module uses the standard library only, so CI can run it before installing.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PACKAGE_NAME = "helpers"
NOT_ARTIFACT_CODE = frozenset({"book", "cache", "claims", "kinds", "archive", "paths", "plotting", "workers"})


@dataclass(frozen=True)
class Kind:
    """One kind of artifact: the modules whose functions compute it (``roots``), whether it is
    a trained network (``trained``: the kinds that ``helpers.book pack`` ships) and what it is."""

    roots: tuple[str, ...]
    trained: bool
    description: str


KINDS: dict[str, Kind] = {
    "fusion-model": Kind(("fusion",), True, "chapter 1's CNNs and fusion networks (weights, history, "
                                             "test probabilities)"),
    "filter-cnn": Kind(("filter_nets",), True, "chapter 3's small CNNs (convolution weights at checkpoints, "
                                                "accuracies)"),
    "cifar-network": Kind(("cifar_networks",), True,
                          "chapter 4's CIFAR networks (weights, history, test accuracy)"),
    "zoo-pretrained": Kind(("zoo",), True, "chapter 6's networks trained on the source task (weights)"),
    "zoo-fine-tuned": Kind(("zoo",), True, "chapter 6's fine-tuned accuracies on the target task"),
    "zoo-scratch": Kind(("zoo",), True, "chapter 6's networks trained on the target task alone (weights, accuracy)"),
    "knn-density": Kind(("filters",), False, "k-nearest-neighbour densities of a point cloud"),
    "class-count-gaps": Kind(("filters",), False, "how clearly a density core has a number of H1 classes, "
                                                  "on the whole core and on random halves of it"),
    "layer-diagrams": Kind(("cifar_networks", "activations", "topology"), False,
                           "Rips diagrams of the point clouds of a CIFAR network's layers"),
    "zoo-betti": Kind(("zoo", "volume_betti"), False, "Betti numbers of a zoo network's activation volumes"),
}


def _check_kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise ValueError(f"unknown artifact kind {kind!r}; known kinds: {sorted(KINDS)}")
    return KINDS[kind]


def _module_file(name: str) -> Path:
    return PACKAGE / f"{name}.py"


def _is_module(name: str) -> bool:
    return _module_file(name).is_file()


@cache
def _tree(name: str) -> ast.Module:
    return ast.parse(_module_file(name).read_text(), filename=str(_module_file(name)))


def imported_modules(name: str) -> set[str]:
    """The library modules that module ``name`` imports (relative or absolute imports)."""
    found = set()
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            if node.level == 1 or (node.level == 0 and parts[0] == PACKAGE_NAME):
                inner = parts if node.level == 1 else parts[1:]
                candidates = [inner[0]] if inner and inner[0] else [alias.name for alias in node.names]
                found.update(c for c in candidates if _is_module(c))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE_NAME and len(parts) > 1 and _is_module(parts[1]):
                    found.add(parts[1])
    return found


def kind_modules(kind: str) -> tuple[str, ...]:
    """The modules whose code makes artifacts of ``kind``: its roots and everything they import,
    less :data:`NOT_ARTIFACT_CODE`; sorted."""
    pending, seen = list(_check_kind(kind).roots), set()
    while pending:
        name = pending.pop()
        if name in seen or name in NOT_ARTIFACT_CODE:
            continue
        seen.add(name)
        pending.extend(imported_modules(name))
    return tuple(sorted(seen))


def _docstring_and_string_lines(tree: ast.Module, lines: list[str]) -> tuple[set[int], set[int]]:
    """Line numbers of docstrings that stand on lines of their own, and of the second and later
    lines of every multi-line string literal."""
    docstrings, inside_strings = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) \
                and ast.get_docstring(node, clean=False) is not None:
            doc = node.body[0]
            alone = not lines[doc.lineno - 1][:doc.col_offset].strip() and (
                len(node.body) == 1 or node.body[1].lineno > doc.end_lineno)
            if alone:
                docstrings.update(range(doc.lineno, doc.end_lineno + 1))
        elif isinstance(node, (ast.Constant, ast.JoinedStr)) and node.end_lineno > node.lineno:
            inside_strings.update(range(node.lineno + 1, node.end_lineno + 1))
    return docstrings, inside_strings


@cache
def module_digest(name: str) -> str:
    """SHA-256 of module ``name``'s source less its docstrings, blank lines and comment lines
    (the same on every Python version: no syntax-tree dump goes into it)."""
    text = _module_file(name).read_text()
    lines = text.splitlines()
    docstrings, inside_strings = _docstring_and_string_lines(ast.parse(text), lines)
    kept = [line.rstrip() for number, line in enumerate(lines, start=1) if number not in docstrings and (
        number in inside_strings or (line.strip() and not line.strip().startswith("#")))]
    return hashlib.sha256("\n".join(kept).encode()).hexdigest()


def code_hash(kind: str) -> str:
    """16-hex-digit hash of the code that makes ``kind`` (:func:`kind_modules`)."""
    text = "\n".join(f"{name} {module_digest(name)}" for name in kind_modules(kind))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def digest() -> str:
    """16-hex-digit hash of every kind's code hash: changes when any artifact's code does."""
    text = "\n".join(f"{kind} {code_hash(kind)}" for kind in sorted(KINDS))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.kinds", description=__doc__.split("\n")[0])
    parser.add_argument("--digest", action="store_true", help="print only the hash of all kinds")
    args = parser.parse_args(argv)
    if args.digest:
        print(digest())
        return
    for kind, spec in KINDS.items():
        print(f"{kind:15} {code_hash(kind)}  {'trained ' if spec.trained else 'computed'}  "
              f"{', '.join(kind_modules(kind))}")


if __name__ == "__main__":
    main()
