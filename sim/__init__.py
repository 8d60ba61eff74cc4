"""A seeded, deterministic simulation of Holdfast's money flow over the real code.

See docs/simulation.md.

One seed decides the workload (checkouts, payments, refunds, releases, payouts, bank-account
changes), the faults the sandbox PSP applies (sandbox_psp/faults.FaultPlan), the order in which
jobs run and how far the clock jumps. After each run the invariants of reference §5 and the
PSP's own records are checked. `python -m sim --seeds N` (make soak) prints the table.
"""
