"""Tests for ganlab/website.py (``make site``): pages for the notebooks in course order, working
local links (``.ipynb`` links become ``.html``), MathJax served from the site itself, widgets
replaced by a note. Built on a subset of the real notebooks (seconds) and on small ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganlab import course, website

SUBSET = [p for p in course.notebooks() if p.stem[:2] in ("00", "05")]  # 05 has widgets


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    website.build(out, SUBSET)
    return out


def test_offline_mathjax_is_installed() -> None:
    assert website.mathjax_dir() is not None, (
        "jupyter-server-mathjax is a dev dependency: pip install -e '.[dev]'")


def test_every_notebook_has_a_page_in_course_order(built: Path) -> None:
    assert len(SUBSET) == 2
    for path in SUBSET:
        page = (built / f"{path.stem}.html").read_text()
        assert course.title(course.read(path)) in page
    index = (built / "index.html").read_text()
    positions = [index.index(f'href="{p.stem}.html"') for p in SUBSET]
    assert positions == sorted(positions)
    assert "What you will learn" not in index and "<li>" in index  # the learn lists, rendered


def test_no_broken_local_link_and_nothing_from_a_cdn(built: Path) -> None:
    assert website.broken_links(built) == []
    assert website.remote_resources(built) == []
    page = (built / f"{SUBSET[0].stem}.html").read_text()
    assert 'src="mathjax/MathJax.js?config=' in page
    assert (built / "mathjax" / "MathJax.js").is_file()


def test_figures_are_embedded_and_widgets_become_a_note(built: Path) -> None:
    page = (built / f"{SUBSET[1].stem}.html").read_text()
    assert "data:image/png;base64," in page
    assert "ganlab-widget-note" in page
    assert "application/vnd.jupyter.widget-state+json" not in page


def _small(path: Path, markdown: str, outputs: list | None = None) -> Path:
    nb = {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": markdown},
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "x = 1",
         "outputs": outputs or []}]}
    path.write_text(json.dumps(nb))
    return path


def test_ipynb_links_become_html_links(tmp_path: Path) -> None:
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    a = _small(nbs / "00_a.ipynb", "# 00 · A\n\nGo on to [B](01_b.ipynb#Part-two), or read "
               "[elsewhere](https://example.org/x.ipynb). $e^{i\\pi} = -1$", [
                   {"output_type": "display_data", "metadata": {},
                    "data": {"text/html": '<a href="01_b.ipynb">b</a>', "text/plain": "b"}}])
    b = _small(nbs / "01_b.ipynb", "# 01 · B\n\n## Part two\n\nBack to [A](00_a.ipynb).")
    out = tmp_path / "site"
    pages = website.build(out, [a, b])
    assert [p.name for p in pages] == ["index.html", "00_a.html", "01_b.html"]
    page_a = (out / "00_a.html").read_text()
    assert 'href="01_b.html#Part-two"' in page_a and 'href="01_b.html"' in page_a
    assert "https://example.org/x.ipynb" in page_a
    assert ".ipynb\"" not in page_a.replace("https://example.org/x.ipynb", "")
    assert website.broken_links(out) == []
    nav = (out / "01_b.html").read_text()
    assert 'href="00_a.html"' in nav and 'href="index.html"' in nav


def test_broken_links_are_found(tmp_path: Path) -> None:
    a = _small(tmp_path / "00_a.ipynb", "# 00 · A\n\n[gone](07_missing.ipynb) [x](#nowhere)")
    out = tmp_path / "site"
    website.build(out, [a])
    assert sorted(website.broken_links(out)) == ["00_a.html: #nowhere (no such anchor)",
                                                 "00_a.html: 07_missing.html"]


def test_without_offline_mathjax_the_pages_say_a_cdn_is_needed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(website, "mathjax_dir", lambda: None)
    a = _small(tmp_path / "00_a.ipynb", "# 00 · A\n\n$x$")
    out = tmp_path / "site"
    website.build(out, [a])
    assert "internet connection is needed" in (out / "00_a.html").read_text()
    assert "internet connection is needed" in (out / "index.html").read_text()
    assert website.remote_resources(out)  # MathJax from the CDN, and the test says so
