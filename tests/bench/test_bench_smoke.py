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


def test_the_batch_benchmark_gives_a_verdict_for_each_job_that_batches():
    lines = run_one("batch", quick=True, size=SMOKE["batch"])
    named = [line for line in lines if line.startswith("batched")]
    assert [n.split(":")[1].split(",")[0].strip() for n in named] == [
        "escrow sweep (release)", "payout run (payout_sent)", "settlement import"]
    assert len([line for line in lines if VERDICT.search(line)]) == 3
    assert not any("not measurable" in line for line in lines)


def test_an_unknown_benchmark_name_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["no-such-benchmark"])
    assert "no benchmark named no-such-benchmark" in capsys.readouterr().err
