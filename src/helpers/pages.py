"""How a chapter reads as a page of the book: which code cells fold, the checks of a built book, and
what a self-contained page (an interactive graph held in an iframe) loads from other hosts.

**The folding convention.** A page shows the paper's question, the method's key calls, the
figures and the numbers; the plumbing that produces them is folded. :func:`fold_tag` decides,
from a code cell's source and tags, the one Jupyter Book tag it carries:

1. the parameters cell (``parameters``, ``injected-parameters``) stays visible, and a cell
   tagged ``remove-cell`` stays as it is: neither gets a fold tag;
2. a cell that records claims or glues values into the prose (it calls ``claims.<anything>``,
   ``glue`` or a ``glue_...`` function), draws a figure (it uses ``plt`` or ``sns``, or calls
   a drawing function of :mod:`helpers.plotting`), or is bookkeeping (it imports two or more
   modules, defines a function or runs a ``for`` loop) is folded: ``hide-input`` (the code behind a
   toggle, its output shown) when it shows something, ``remove-input`` when it shows nothing
   (no ``print``, ``display`` or figure, and its last statement is not an expression whose value
   the notebook would display);
3. every other cell, typically one call of the library with the chapter's parameters and the
   table it returns, stays visible.

``tests/test_pages.py`` holds every chapter to this rule, so a new chapter follows it by
running its cells through :func:`fold_tag` (or by tagging them by hand the same way).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser

FOLD_TAGS = ("hide-input", "remove-input")
VISIBLE_TAGS = ("parameters", "injected-parameters", "remove-cell")
DRAWING_NAMES = {"plt", "sns"}
NOT_DRAWING = {"set_style", "format_table"}  # the functions of helpers.plotting that draw nothing
RECORDING = re.compile(r"\bclaims\.\w+\s*\(|\bglue(_\w+)?\s*\(")


def fold_tag(source: str, tags: Sequence[str] = ()) -> str | None:
    """The fold tag of a code cell under the convention above: ``"hide-input"``,
    ``"remove-input"`` or ``None`` (the cell stays visible)."""
    if any(tag in VISIBLE_TAGS for tag in tags):
        return None
    tree = _parse(source)
    if not (RECORDING.search(source) or _draws(tree) or _is_bookkeeping(tree)):
        return None
    return "hide-input" if _shows_output(tree) else "remove-input"


def _parse(source: str) -> ast.Module:
    """The cell's Python syntax tree (IPython magics and shell escapes dropped)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return ast.parse("\n".join(lines))


def _calls(tree: ast.AST) -> Iterable[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def _call_name(call: ast.Call) -> str:
    """``f`` for ``f(...)``, ``m`` for ``x.m(...)``."""
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _draws(tree: ast.AST) -> bool:
    """Whether the cell draws a figure: it uses matplotlib/seaborn names or a plotting helper."""
    uses_drawing_names = any(isinstance(node, ast.Name) and node.id in DRAWING_NAMES for node in ast.walk(tree))
    return uses_drawing_names or any(
        isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
        and call.func.value.id == "plotting" and call.func.attr not in NOT_DRAWING for call in _calls(tree))


def _is_bookkeeping(tree: ast.AST) -> bool:
    """Whether the cell sets up imports (two or more), defines a function or runs a ``for`` loop."""
    imports = sum(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(tree))
    return imports >= 2 or any(isinstance(node, (ast.FunctionDef, ast.For)) for node in ast.walk(tree))


def _shows_output(tree: ast.Module) -> bool:
    """Whether the cell prints, displays or draws, or ends in an expression with a value."""
    if _draws(tree) or any(_call_name(call) in {"print", "display"} for call in _calls(tree)):
        return True
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Expr):
        return False
    return not (isinstance(last.value, ast.Call) and _call_name(last.value).startswith("glue"))


# ----------------------------------------------------------------------------- built pages


class _PageScan(HTMLParser):
    """Collects, for every image in a cell's output, whether a captioned figure encloses it."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str, int]] = []  # (tag, class attribute, figure number or -1)
        self.figures: list[str] = []  # caption text of each <figure>
        self.images: list[tuple[str, int]] = []  # (src, index of the enclosing figure or -1)
        self.in_caption: int | None = None

    def _enclosing_figure(self) -> int:
        return next((number for tag, _, number in reversed(self.stack) if tag == "figure"), -1)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = attributes.get("class") or ""
        if tag == "img" and any("cell_output" in c.split() for _, c, _ in self.stack):
            self.images.append((attributes.get("src") or "", self._enclosing_figure()))
        if tag in self.VOID:
            return
        number = -1
        if tag == "figure":
            number = len(self.figures)
            self.figures.append("")
        if tag == "figcaption":
            self.in_caption = self._enclosing_figure()
        self.stack.append((tag, classes, number))

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption":
            self.in_caption = None
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        if self.in_caption is not None and self.in_caption >= 0:
            self.figures[self.in_caption] += data


def _scan(html: str) -> _PageScan:
    scan = _PageScan()
    scan.feed(html)
    return scan


def figure_sources(html: str) -> list[str]:
    """The ``src`` of every image in the cell outputs of a page."""
    return [src for src, _ in _scan(html).images]


def uncaptioned_figures(html: str) -> list[str]:
    """The images of cell outputs on a page that no figure caption describes (their ``src``):
    an image counts as captioned when it sits in a ``<figure>`` whose caption has text beyond
    its number ("Fig. 3")."""
    scan = _scan(html)
    described = [re.sub(r"^\s*Fig\.\s*[\d.]+\s*", "", text).strip() != "" for text in scan.figures]
    return [src for src, figure in scan.images if figure < 0 or not described[figure]]


def machine_paths(text: str, folders: Iterable[str]) -> list[str]:
    """Which of ``folders`` (absolute paths of the machine that built the book) appear in ``text``."""
    return sorted({folder for folder in folders if folder and folder != "/" and folder in text})


# ----------------------------------------------------------------------------- self-contained pages


class _Resources(HTMLParser):
    """Collects the ``src``/``href`` attributes and CSS ``url(...)``/``@import`` targets that
    point to another host (``http(s)://`` or ``//``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data") and value and _remote(value):
                self.found.append(value.strip())
            if name == "style" and value:
                self.handle_data_css(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.handle_data_css(data)

    def handle_data_css(self, css: str) -> None:
        for target in re.findall(r"""(?:url\(\s*|@import\s+)["']?([^"')\s;]+)""", css):
            if _remote(target):
                self.found.append(target)


def _remote(value: str) -> bool:
    return bool(re.match(r"\s*(https?:)?//", value, re.IGNORECASE))


def external_resources(page: str) -> list[str]:
    """Every address on another host that the HTML document ``page`` (str) names in a ``src``,
    ``href`` (links included), ``srcset``, ``poster`` or ``data`` attribute, or in a CSS
    ``url(...)``/``@import``; an empty list for a page that works offline. Script text is not
    read (d3 names its XML namespaces as ``http://www.w3.org/...`` strings, which load nothing)."""
    parser = _Resources()
    parser.feed(page)
    parser.close()
    return parser.found


class _Frames(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pages: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe":
            self.pages.extend(value for name, value in attrs if name == "srcdoc" and value is not None)


def embedded_pages(document: str) -> list[str]:
    """The HTML documents held inline by the ``<iframe srcdoc=...>`` elements of ``document``
    (str), unescaped, in order: what :func:`helpers.mapper.iframe` embeds, read back from a built page."""
    parser = _Frames()
    parser.feed(document)
    parser.close()
    return parser.pages
