"""``make site``: the course as static HTML pages, built offline with nbconvert.

``site/index.html`` lists the notebooks in course order; ``site/NN_topic.html`` is each notebook
with its committed outputs (figures are embedded as data URIs), a bar linking the previous page,
the index and the next page, and every link to an ``.ipynb`` file turned into one to its
``.html`` page. Equations are typeset by MathJax 2 copied into ``site/mathjax/`` from the
``jupyter-server-mathjax`` package, so no page loads anything from a CDN; without that package
the pages fall back to MathJax's CDN and say so at the top. Widgets need a running kernel: each
widget output becomes a note saying so (embedding their state would need require.js and the
widget manager from a CDN).

Usage: ``python -m ganlab.website [OUT_DIR] [NOTEBOOK ...]`` (default ``site/``, every notebook).
"""

from __future__ import annotations

import html
import importlib.util
import re
import shutil
import sys
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path

from ganlab.course import notebooks, source, title

MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"  # the configs jupyter-server-mathjax ships
CDN_MATHJAX = ("https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/MathJax.js?config="
               + MATHJAX_CONFIG)
CDN_NOTE = ("Equations on this page are typeset by MathJax from a CDN (an internet connection is "
            "needed): `pip install jupyter-server-mathjax` and `make site` again for an offline "
            "site.")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ('<p class="ganlab-widget-note"><em>An interactive widget appears here when the '
               "notebook runs in JupyterLab (it needs a Python kernel): <code>make lab</code>."
               "</em></p>")
# The lab template without the scripts it would fetch from a CDN (require.js, mermaid, widgets).
TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock html_head_js_requirejs %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
"""
IPYNB_LINK = re.compile(r"(\]\(\s*)(?![a-z][a-z0-9+.-]*:)([^)\s]+?)\.ipynb(#[^)\s]*)?(\s*\))",
                        re.I)
IPYNB_HREF = re.compile(r"""(href=["'])(?![a-z][a-z0-9+.-]*:)([^"']+?)\.ipynb(#[^"']*)?(["'])""",
                        re.I)


def mathjax_dir() -> Path | None:
    """MathJax 2 as shipped by the jupyter-server-mathjax package, or None when not installed."""
    spec = importlib.util.find_spec("jupyter_server_mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    return static if (static / "MathJax.js").is_file() else None


def _rewrite_markdown_links(text: str) -> str:
    return IPYNB_LINK.sub(lambda m: f"{m[1]}{m[2]}.html{m[3] or ''}{m[4]}", text)


def rewrite_html_links(text: str) -> str:
    """``href="02_dcgan.ipynb#sec"`` -> ``href="02_dcgan.html#sec"`` for relative links only."""
    return IPYNB_HREF.sub(lambda m: f"{m[1]}{m[2]}.html{m[3] or ''}{m[4]}", text)


def _nav(pages: Sequence[Path], i: int) -> str:
    parts = []
    if i > 0:
        parts.append(f"[← {pages[i - 1].stem}]({pages[i - 1].stem}.html)")
    parts.append("[course index](index.html)")
    if i + 1 < len(pages):
        parts.append(f"[{pages[i + 1].stem} →]({pages[i + 1].stem}.html)")
    return " · ".join(parts)


def prepare(nb, nav: str, note: str = ""):  # noqa: ANN001, ANN201 - nbformat NotebookNodes
    """The notebook as the site shows it: navigation bars, .html links, widget notes."""
    import nbformat

    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _rewrite_markdown_links(source(cell))
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                output["data"] = {"text/html": WIDGET_NOTE, "text/plain": "(a widget)"}
    head = nav + (f"\n\n> {note}" if note else "")
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(head))
    nb.cells.append(nbformat.v4.new_markdown_cell(nav))
    return nb


def _exporter(mathjax_url: str):  # noqa: ANN202 - an nbconvert HTMLExporter
    import jinja2
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", template_file="ganlab_site.html.j2",
                        extra_loaders=[jinja2.DictLoader({"ganlab_site.html.j2": TEMPLATE})],
                        mathjax_url=mathjax_url)


def _learn(nb: dict) -> str:
    """The "What you will learn" list of a notebook's first cell (markdown), if it has one."""
    text = source(nb["cells"][0]) if nb["cells"] else ""
    match = re.search(r"what you will learn\**\s*\n+((?:[-*] .*\n?(?:  +.*\n?)*)+)", text, re.I)
    return match.group(1) if match else ""


def build(out: str | Path = "site", paths: Sequence[Path] | None = None) -> list[Path]:
    """Write the site into ``out``; returns the pages written (index first)."""
    import nbformat
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    out = Path(out)
    pages = list(paths) if paths is not None else notebooks()
    if not pages:
        raise ValueError("no notebooks to build a site from")
    out.mkdir(parents=True, exist_ok=True)
    mathjax = mathjax_dir()
    if mathjax is not None:
        shutil.copytree(mathjax, out / "mathjax", dirs_exist_ok=True)
        url, note = f"mathjax/MathJax.js?config={MATHJAX_CONFIG}", ""
    else:
        url, note = CDN_MATHJAX, CDN_NOTE
        print(f"warning: {CDN_NOTE}", file=sys.stderr)
    exporter = _exporter(url)
    written, entries = [], []
    for i, path in enumerate(pages):
        nb = nbformat.read(path, as_version=4)
        name = title(nb) or path.stem
        entries.append((path.stem, name, markdown2html_mistune(_learn(nb))))
        body, _ = exporter.from_notebook_node(prepare(nb, _nav(pages, i), note),
                                              resources={"metadata": {"name": name}})
        page = out / f"{path.stem}.html"
        page.write_text(rewrite_html_links(body), encoding="utf-8")
        written.append(page)
    index = out / "index.html"
    index.write_text(_index(entries, url, note), encoding="utf-8")
    return [index, *written]


def _index(entries: Sequence[tuple[str, str, str]], mathjax_url: str, note: str) -> str:
    items = "\n".join(
        f'<li><a href="{html.escape(stem)}.html">{html.escape(name)}</a>{learn}</li>'
        for stem, name, learn in entries)
    note_html = f"<p><em>{html.escape(note)}</em></p>" if note else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>ganlab: a GAN course</title>
<script src="{html.escape(mathjax_url)}"></script>
<script type="text/x-mathjax-config">
MathJax.Hub.Config({{tex2jax: {{inlineMath: [['$', '$'], ['\\\\(', '\\\\)']],
                               processEscapes: true}}, messageStyle: "none"}});
</script>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto;
        padding: 0 1rem; line-height: 1.5; color: #222; }}
ol > li {{ margin-bottom: 1.2rem; }}
ol > li > a {{ font-size: 1.15rem; font-weight: 600; }}
</style>
</head>
<body>
<h1>ganlab: a GAN course you can read, run and test</h1>
<p>The notebooks in course order, with the outputs of a <code>default</code> profile run.
To run them, clone the repository and type <code>make lab</code>.</p>
{note_html}
<ol start="0">
{items}
</ol>
</body>
</html>
"""


# ---------------------------------------------------------------- checking a built site
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("href", "src") and value:
                self.links.append((tag, value))
            if key in ("id", "name") and value:
                self.ids.add(value)


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def broken_links(site: str | Path) -> list[str]:
    """Every relative link or resource of every page whose file is missing, or whose
    ``#anchor`` is not on the page it points to, as ``page: url``."""
    site = Path(site)
    broken, ids = [], {}
    for page in sorted(site.glob("*.html")):
        parsed = _parse(page)
        ids[page.resolve()] = parsed.ids
        for _, url in parsed.links:
            if re.match(r"[a-z][a-z0-9+.-]*:", url, re.I) or url.startswith("//"):
                continue
            target, _, anchor = url.partition("#")
            target = target.split("?", 1)[0]
            file = (page.parent / target).resolve() if target else page.resolve()
            if not file.exists():
                broken.append(f"{page.name}: {url}")
            elif anchor and file.suffix == ".html":
                known = ids.get(file)
                if known is None:
                    known = ids[file] = _parse(file).ids
                if anchor not in known:
                    broken.append(f"{page.name}: {url} (no such anchor)")
    return broken


def remote_resources(site: str | Path) -> list[str]:
    """Scripts, stylesheets and images the pages load from the network (links to read are fine)."""
    found = []
    for page in sorted(Path(site).glob("*.html")):
        for tag, url in _parse(page).links:
            if tag in ("script", "link", "img", "iframe") and re.match(r"(https?:)?//", url):
                found.append(f"{page.name}: {url}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args.pop(0)) if args else Path("site")
    pages = build(out, [Path(a) for a in args] or None)
    problems = broken_links(out)
    for p in problems:
        print(f"broken link {p}", file=sys.stderr)
    print(f"wrote {len(pages)} pages to {out}/ (open {out / 'index.html'})")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
