"""`flask reconcile --provider P --date D`: imports with progress, exit 0 when everything
matches, exit 1 naming each unresolved difference, exit 2 on a bad day."""
from __future__ import annotations

from tests.flows import latest_payment, paid_order, psp_call
from tests.services.reconciliation.recon_steps import forget_psp_movements, today


def run(app, *args):
    # click 8.2+ keeps stderr apart (result.stderr) while result.output mixes both.
    return app.test_cli_runner().invoke(args=["reconcile", *args])


def test_a_matching_day_exits_0_with_progress(app, client, people, stack, psp):
    forget_psp_movements(psp)
    paid_order(client, people, stack, psp, {"mug": 1})
    result = run(app, "--provider", "sandbox", "--date", today())
    assert result.exit_code == 0, result.output + result.stderr
    assert "page 1, 1 new lines" in result.output
    assert "all reconciled" in result.output


def test_an_unresolved_difference_exits_1_and_is_named(app, client, people, stack, psp):
    forget_psp_movements(psp)
    payment = latest_payment(paid_order(client, people, stack, psp, {"mug": 1}))
    psp_call(stack["psp_url"], "POST",
             f"/v1/test_helpers/payment_sessions/{payment.psp_reference}/fee", {"fee": 1})
    result = run(app, "--provider", "sandbox", "--date", today())
    assert result.exit_code == 1
    assert f"Fee mismatch: charge {payment.psp_reference}" in result.stderr


def test_a_day_in_the_future_or_nonsense_exits_2(app):
    assert run(app, "--provider", "sandbox", "--date", "2999-01-01").exit_code == 2
    result = run(app, "--provider", "sandbox", "--date", "yesterday")
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.stderr
