"""The benchmark harness at its smallest sizes, so that it cannot rot between `make bench` runs.

No timing is asserted here (figures belong to `make bench`, never to tests): each benchmark
must run to the end, check that its subject did its work, and print a verdict for every ratio.
"""
from __future__ import annotations

import re

import pytest

from bench.run import BENCHMARKS, SMOKE, main, run_one

VERDICT = re.compile(r"(target [≥≤] [\d.]+|target < [\d.]+ ms)\s+(PASS|MISS)$")


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_each_benchmark_runs_at_its_smallest_size_and_gives_a_verdict(name):
    lines = run_one(name, quick=True, size=SMOKE[name])
    verdicts = [line for line in lines if VERDICT.search(line)]
    assert verdicts, "\n".join(lines)


def test_the_batch_benchmark_says_what_it_cannot_measure_yet():
    lines = run_one("batch", quick=True, size=SMOKE["batch"])
    assert any("settlement import" in line for line in lines)
    assert any("not measurable yet (issue 13)" in line for line in lines)


def test_an_unknown_benchmark_name_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["no-such-benchmark"])
    assert "no benchmark named no-such-benchmark" in capsys.readouterr().err
