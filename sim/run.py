"""One seeded run, and the soak over many: workload with faults, then let the owners settle
everything (faults off, days pass), then check the invariants."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from sandbox_psp.faults import FaultPlan, install_plan
from sim import invariants, workload
from sim.world import World, seeded

STEPS_PER_RUN = 80
SETTLE_DAYS = 9          # longer than the janitor's whole cadence (5 min, 1 h, then 5 days)
WORK_LIMIT = 400         # jobs per settling round: a loop that never ends is a violation too


@dataclass
class Result:
    seed: int
    violations: dict[str, list[str]]
    trace: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def report(self) -> str:
        """The seed, what broke, and the run's trace (workload steps and the faults drawn)."""
        lines = [f"seed {self.seed} FAILED — replay: make soak SEED={self.seed}"]
        for name, problems in self.violations.items():
            lines += [f"  [{name}] {p}" for p in problems[:10]]
        lines.append("  trace:")
        lines += [f"    {line}" for line in self.trace]
        return "\n".join(lines)


def run_seed(world: World, seed: int, password_hash: str, steps: int = STEPS_PER_RUN) -> Result:
    """Drive one seeded run in an attached world; returns its violations and trace."""
    from app.jobs.scheduling import schedule_periodic

    started = time.perf_counter()
    people = world.reset(password_hash)
    rng, job_rng = seeded(seed, "workload"), seeded(seed, "jobs")
    plan = FaultPlan(seed)
    install_plan(world.psp, plan)
    trace: list[str] = []
    _setup(world, people)
    schedule_periodic()
    try:
        for number in range(steps):
            step = rng.choices(list(workload.STEPS), weights=list(workload.STEPS.values()))[0]
            what = workload.do(world, step, job_rng if step == "work" else rng, people)
            trace.append(f"{number:02d} {step}: {what}")
        plan.enabled = False  # the weather clears: every owner gets to finish its work
        stalled = _settle(world, job_rng)
        violations = invariants.check(world, world.jobs.dead)
        if stalled:
            violations.setdefault("stuck", []).append(stalled)
    except Exception as exc:  # a crash of the platform's own code is a finding, not a stop
        from app.extensions import db

        db.session.rollback()
        violations = {"crash": [f"{type(exc).__name__}: {exc}"[:300]]}
    finally:
        install_plan(world.psp, None)
    trace += [f"fault {kind} {where}: {fault}" for kind, where, fault in plan.drawn]
    return Result(seed, violations, trace, time.perf_counter() - started)


def _setup(world: World, people: dict) -> None:
    from app.services.audit import Actor
    from app.services.money import bank_accounts
    from sim.world import PASSWORD

    actor = Actor("support@sim.example", "127.0.0.1")
    for seller, iban in (("seller", "DE89370400440532013000"),
                         ("seller2", "GB82WEST12345698765432")):
        bank_accounts.register_or_change(people[seller], PASSWORD, seller.title(), actor,
                                         iban=iban)


SETTLE_STEPS = [600, 3600, 6 * 3600] + [24 * 3600] * SETTLE_DAYS


def _settle(world: World, rng) -> str | None:
    """Days pass with no faults: webhooks, jobs and periodic owners run until all is quiet."""
    for seconds in SETTLE_STEPS:
        world.clock.advance(seconds)
        for _ in range(WORK_LIMIT):
            delivered = world.deliver()
            world.jobs.promote()
            if not world.jobs.ready and not delivered:
                break
            for job_id in rng.sample(sorted(world.jobs.ready), len(world.jobs.ready)):
                if job_id in world.jobs.ready:
                    world.run_job(job_id)
        else:
            return f"still busy after {WORK_LIMIT} rounds: {sorted(world.jobs.ready)[:5]}"
    return None


def soak(world: World, seeds, password_hash: str, on_failure=print,
         budget: float | None = None) -> dict:
    """Run every seed (or as many as `budget` seconds allow); the summary table's numbers."""
    started = time.perf_counter()
    by_invariant: Counter = Counter()
    failed = []
    runs = 0
    with world.attached():
        for seed in seeds:
            if budget is not None and time.perf_counter() - started > budget:
                break
            result = run_seed(world, seed, password_hash)
            runs += 1
            if not result.ok:
                failed.append(seed)
                for name, problems in result.violations.items():
                    by_invariant[name] += len(problems)
                on_failure(result.report())
    return {"runs": runs, "failed_seeds": failed, "violations": dict(by_invariant),
            "seconds": time.perf_counter() - started}


def table(summary: dict) -> str:
    """The soak's table: runs, violations by invariant, seconds."""
    names = ["ledger", "psp_money", "psp_executions", "payouts", "chargebacks", "stuck", "dead_letter", "crash"]
    rows = [("runs", summary["runs"]), ("failed runs", len(summary["failed_seeds"])),
            ("failed seeds", " ".join(map(str, summary["failed_seeds"][:20])) or "-")]
    rows += [(f"violations: {name}", summary["violations"].get(name, 0)) for name in names]
    rows.append(("seconds", f"{summary['seconds']:.1f}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
