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


INVARIANTS = ("ledger", "psp_money", "psp_executions", "payouts", "chargebacks", "stuck",
              "dead_letter", "crash", "injected")


@dataclass
class Result:
    seed: int
    violations: dict[str, list[str]]
    trace: list[str] = field(default_factory=list)
    seconds: float = 0.0
    steps: tuple[int, ...] = ()          # the workload steps this run made (by index)
    faults: tuple[str, ...] = ()         # the ids of the faults that fired
    shrunk: Result | None = None         # the minimal run that breaks the same invariant
    mix: Counter = field(default_factory=Counter)  # payments by "provider mode"

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    @property
    def broken(self) -> str | None:
        """The first invariant this run broke (the one a shrinker keeps broken)."""
        return next((name for name in INVARIANTS if self.violations.get(name)), None)

    def replay(self, full: bool = True) -> str:
        """The command that replays exactly this run."""
        if full:
            return f"make soak SEED={self.seed}"
        return (f"make soak SEED={self.seed} KEEP={','.join(map(str, self.steps)) or 'none'} "
                f"FAULTS={','.join(self.faults) or 'none'}")

    def report(self) -> str:
        """The seed, what broke, and the trace: the minimal one when the run was shrunk."""
        lines = [f"seed {self.seed} FAILED — replay: {self.replay()}"]
        lines += self._violations()
        if self.shrunk is None:
            lines.append("  trace:")
            lines += [f"    {line}" for line in self.trace]
            return "\n".join(lines)
        small = self.shrunk
        lines.append(f"  minimal trace ({len(small.steps)} of {len(self.steps)} steps, "
                     f"{len(small.faults)} of {len(self.faults)} faults, still breaks "
                     f"[{small.broken}]) — replay: {small.replay(full=False)}")
        lines += ["  " + line for line in small._violations()]
        lines += [f"    {line}" for line in small.trace]
        return "\n".join(lines)

    def _violations(self) -> list[str]:
        lines = []
        for name, problems in self.violations.items():
            lines += [f"  [{name}] {p}" for p in problems[:10]]
        return lines


def step_name(seed: int, number: int) -> str:
    """What step `number` of a seed's run does: its own draw, so any subset of a run's steps
    replays each of them as it was in the whole run."""
    rng = seeded(seed, f"step:{number}")
    return rng.choices(list(workload.STEPS), weights=list(workload.STEPS.values()))[0]


def run_seed(world: World, seed: int, password_hash: str, steps: int = STEPS_PER_RUN,
             keep=None, faults=None, extra_check=None) -> Result:
    """Drive one seeded run in an attached world; returns its violations and trace.
    `keep`: only these step numbers; `faults`: only these fault ids fire (both None: the whole
    run). `extra_check(world)` → problems is a test's own invariant ("injected")."""
    from app.jobs.scheduling import schedule_periodic

    started = time.perf_counter()
    world.backoff.seed(f"backoff:{seed}")
    world.reseed(seed, "setup")
    people = world.reset(password_hash)
    routing = world.route(seed)
    plan = FaultPlan(seed, only=None if faults is None else frozenset(faults))
    install_plan(world.psp, plan)
    numbers = tuple(range(steps) if keep is None else sorted(keep))
    trace: list[str] = [f"routing EUR: {routing}"]
    try:
        plan.at("setup")
        _setup(world, people)
        schedule_periodic()
        for number in numbers:
            step = step_name(seed, number)
            plan.at(number)
            world.step = number
            world.reseed(seed, f"step:{number}")
            world.outage_check()
            rng = seeded(seed, f"{'jobs' if step == 'work' else 'workload'}:{number}")
            what = workload.do(world, step, rng, people)
            trace.append(f"{number:02d} {step}: {what}")
        world.outage_end()
        plan.enabled = False  # the weather clears: every owner gets to finish its work
        world.reseed(seed, "settle")
        stalled = _settle(world, seeded(seed, "settle"))
        violations = invariants.check(world, world.jobs.dead)
        if stalled:
            violations.setdefault("stuck", []).append(stalled)
        if extra_check is not None:
            violations["injected"] = extra_check(world)
        mix = _mix()
    except Exception as exc:  # a crash of the platform's own code is a finding, not a stop
        from app.extensions import db

        world.outage_end()
        db.session.rollback()
        violations = {"crash": [f"{type(exc).__name__}: {exc}"[:300]]}
        mix = Counter()
    finally:
        install_plan(world.psp, None)
    trace += [f"fault {fault_id} {kind} {where}: {fault}"
              for fault_id, kind, where, fault in plan.drawn]
    return Result(seed, violations, trace, time.perf_counter() - started, numbers,
                  tuple(fault_id for fault_id, *_ in plan.drawn), mix=mix)


def _mix() -> Counter:
    """The run's payments by provider and mode, and how many of them were captured (the
    soak's table says where the money went: every PSP and mode must be exercised)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Payment

    mix: Counter = Counter()
    for provider, mode, captured in db.session.execute(
            select(Payment.provider, Payment.integration_mode, Payment.amount_captured)):
        mix[f"{provider} {mode}"] += 1
        if captured:
            mix[f"{provider} {mode} captured"] += 1
    return mix


def _setup(world: World, people: dict) -> None:
    from app.services.audit import Actor
    from app.services.money import bank_accounts
    from sim.world import PASSWORD

    actor = Actor("support@sim.example", "127.0.0.1")
    for seller, iban in (("seller", "DE89370400440532013000"),
                         ("seller2", "GB82WEST12345698765432")):
        bank_accounts.register_or_change(people[seller], PASSWORD, seller.title(), actor,
                                         iban=iban)
    _returning_buyers(world, people)


# Each buyer paid before this run with "Save my card" ticked: the PSP keeps the card as a
# reusable method of our API key and our vault its token. Without them a card was saved only
# once a "save my card" checkout had been paid and its webhook processed, so few runs ever paid
# with one (0 of 18 saved-card steps found a card). buyer2's card asks for 3-D Secure again.
RETURNING = (("buyer", "4242424242424242", "visa", "succeed"),
             ("buyer2", "4000002760003184", "visa", "three_d_secure"))


def _returning_buyers(world: World, people: dict) -> None:
    from app.services.audit import Actor
    from app.services.payments import vault
    from sandbox_psp import cards
    from sandbox_psp.idempotency import scope_of
    from sandbox_psp.models import PaymentMethod
    from sandbox_psp.models import db as psp_db
    from sim.world import API_KEY

    for buyer, number, brand, outcome in RETURNING:
        token = f"pm_sim_{buyer}"
        with world.psp.app_context():
            printed = cards.fingerprint(number, world.psp.config["SANDBOX_FINGERPRINT_KEY"])
            psp_db.session.add(PaymentMethod(
                id=token, scope=scope_of(API_KEY), created=int(world.clock()), brand=brand,
                last4=number[-4:], exp_month=12, exp_year=2034, fingerprint=printed,
                outcome=outcome, session_id=f"ps_sim_earlier_{buyer}"))
            psp_db.session.commit()
        vault.save(people[buyer], "sandbox", token, brand, number[-4:], 12, 2034, printed,
                   Actor(f"{buyer}@sim.example", "127.0.0.1", user_id=people[buyer]))


SETTLE_STEPS = [600, 3600, 6 * 3600] + [24 * 3600] * SETTLE_DAYS
# From this round on (2 days in: every lost webhook caught up, every timer fired) a quiet run
# stops settling: the remaining days would only run periodic owners with nothing to do, and
# they were 2/3 of a seed's time (profiled). A run with anything left to do gets all 9 days.
QUIET_AFTER = 1


def _settle(world: World, rng) -> str | None:
    """Days pass with no faults: webhooks, jobs and periodic owners run until all is quiet."""
    for number, seconds in enumerate(SETTLE_STEPS):
        if number >= QUIET_AFTER and invariants.quiet(world):
            return None
        world.clock.advance(seconds)
        world.ensure_periodic()
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
         budget: float | None = None, shrink: bool = True) -> dict:
    """Run every seed (or as many as `budget` seconds allow); the summary table's numbers.
    A failing seed is shrunk to its minimal run (unless `shrink` is off) before its report."""
    from sim.shrink import shrink as shrink_run

    started = time.perf_counter()
    by_invariant: Counter = Counter()
    mix: Counter = Counter()
    failed = []
    runs = 0
    with world.attached():
        for seed in seeds:
            if budget is not None and time.perf_counter() - started > budget:
                break
            result = run_seed(world, seed, password_hash)
            runs += 1
            mix.update(result.mix)
            if not result.ok:
                failed.append(seed)
                for name, problems in result.violations.items():
                    by_invariant[name] += len(problems)
                if shrink:
                    shrink_run(world, result, password_hash)
                on_failure(result.report())
    return {"runs": runs, "failed_seeds": failed, "violations": dict(by_invariant),
            "seconds": time.perf_counter() - started, "payments": dict(mix)}


def merge(summaries: list[dict], seconds: float) -> dict:
    """One table's numbers from the soaks of several processes."""
    by_invariant: Counter = Counter()
    mix: Counter = Counter()
    for summary in summaries:
        by_invariant.update(summary["violations"])
        mix.update(summary.get("payments", {}))
    return {"runs": sum(s["runs"] for s in summaries),
            "failed_seeds": sorted(seed for s in summaries for seed in s["failed_seeds"]),
            "violations": dict(by_invariant), "seconds": seconds, "payments": dict(mix)}


def table(summary: dict) -> str:
    """The soak's table: runs, violations by invariant, seconds."""
    names = INVARIANTS[:-1]
    rows = [("runs", summary["runs"]), ("failed runs", len(summary["failed_seeds"])),
            ("failed seeds", " ".join(map(str, summary["failed_seeds"][:20])) or "-")]
    rows += [(f"violations: {name}", summary["violations"].get(name, 0)) for name in names]
    rows += [(f"payments: {name}", count)
             for name, count in sorted(summary.get("payments", {}).items())]
    rows.append(("seconds", f"{summary['seconds']:.1f}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
