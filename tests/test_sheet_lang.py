"""``symderiv sheet --lang zh``: the same sheet in Chinese, every phrase from the words table, compiled by pdfLaTeX."""
from __future__ import annotations

import re
import subprocess

import pytest
from test_sheet import require_latexmk
from test_sheet_steps import softplus_network

import symderiv as sd
from symderiv.cli import main
from symderiv.emitting.compile_latex import compile_pdf
from symderiv.emitting.sheet import render_sheet
from symderiv.emitting.sheet_words import ZH, say


def _prose(tex: str) -> str:
    """The body text of a sheet without its math, commands and the network's own names."""
    body = tex.split(r"\begin{document}")[1]
    body = re.sub(r"\$[^$]*\$|\\begin\{align\*\}.*?\\end\{align\*\}", " ", body, flags=re.DOTALL)
    return re.sub(r"\\[A-Za-z]+\*?|\\texttt\{[^}]*\}", " ", body)


@pytest.mark.parametrize("name", sd.networks.shipped())
def test_every_shipped_networks_sheet_is_chinese_throughout(name):
    """Rendering fails on any phrase the Chinese table lacks; and no English sentence is left in the prose."""
    tex = render_sheet(sd.networks.load(network=name), "zh")
    assert r"\begin{CJK}{UTF8}{gbsn}" in tex and "第一部分：网络的各层" in tex and "第二部分" in tex
    english = re.findall(r"\b(?:the|of|with|is|and|for|Derivative|Residual|Gradient|Sizes)\b", _prose(tex))
    assert english == [], english[:10]
    assert "??" not in tex  # no Chinese word lost to the escaper (it prints "?" for what pdfLaTeX cannot)


def test_the_english_sheet_is_unchanged_by_the_table():
    tex = render_sheet(sd.networks.multitask())
    assert "Block One: the layers of the network" in tex and "CJK" not in tex
    assert not re.search("[\u4e00-\u9fff]", tex)


def test_a_missing_phrase_is_an_error_not_english_in_a_chinese_sheet():
    with pytest.raises(KeyError, match="no zh words for 'a phrase nobody wrote'"):
        say("a phrase nobody wrote", "zh")
    with pytest.raises(ValueError, match="no sheet language 'fr'"):
        say("chain rule", "fr")
    assert all(isinstance(v, str) and v for v in ZH.values())


def test_a_users_layer_keeps_its_own_words_and_the_sheet_says_whose_it_is():
    net = softplus_network()
    tex = render_sheet(net, "zh")
    assert r"层 Soft\_Plus（本网络自定义的层）" in tex and "Soft_Plus" not in tex


@pytest.mark.parametrize("name", ["multitask", "cnn"])
def test_the_chinese_sheet_compiles_and_reads_in_chinese(name, tmp_path):
    require_latexmk()
    tex = tmp_path / "answer_sheet_zh.tex"
    tex.write_text(render_sheet(sd.networks.load(network=name), "zh"))
    pdf = compile_pdf(tex)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "第一部分：网络的各层" in text and "链式法则" in text and "的残差" in text, text[:500]


def test_sheet_lang_zh_writes_beside_the_english_sheet(tmp_path, capsys):
    assert main(["sheet", "-o", str(tmp_path), "--lang", "zh"]) == 0
    assert (tmp_path / "answer_sheet_zh.tex").read_text().count("答题纸") == 1
    assert not (tmp_path / "answer_sheet.tex").exists()
    with pytest.raises(SystemExit) as exit_:
        main(["sheet", "-o", str(tmp_path), "--lang", "fr"])
    assert exit_.value.code == 2 and "invalid choice: 'fr'" in capsys.readouterr().err
