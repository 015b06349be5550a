"""The README says what is true today: its commands and its headline numbers."""

from __future__ import annotations

import re
from pathlib import Path

import vqimage

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second():
    block = README.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert block[0].startswith('pip install ".[all]" && vqimage demo')
    assert block[1].startswith('pip install ".[test]" && python -m pytest')
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install ".[test]" && python -m pytest' in ci
    assert len(README.splitlines()) <= 120


def test_headline_numbers_are_todays(face):
    """bench_headline.py wrote them; a change to the coders must rerun it."""
    section = README.split("<!-- section:headline -->", 1)[1].split("<!-- /section", 1)[0]
    vqi = int(re.search(r"`\.vqi` file, `codec=\"auto\"` \| ([\d,]+) \|", section)
              .group(1).replace(",", ""))
    q = vqimage.fit(face, 8)
    assert vqi == len(vqimage.compress(face, quantizer=q).tobytes())
    psnr = float(re.search(r"# ([\d.]+) dB", section).group(1))
    assert round(vqimage.metrics.psnr(q.quantize(face), face), 2) == psnr
    assert f"{vqimage.compress(face, quantizer=q, codec='packed').nbytes:,}" in section
