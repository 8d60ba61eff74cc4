"""The seller's dashboard: balances, lines to ship, escrow, payouts, fees and a 30-day chart.

The full page renders every partial at once (it works without JavaScript); with htmx each
partial refreshes itself, on a timer or when an action announces a change through HX-Trigger.
An action answers htmx with the partial it changed, and a plain form post with a 303 back here.
"""
from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user
from redis.exceptions import RedisError
from sqlalchemy import select

from app.blueprints.access import current_actor, deny_object, role_required, service_abort
from app.blueprints.seller.forms import DeliveredForm, PayOutForm, PayoutSettingsForm, ShipForm
from app.blueprints.seller.routes import bp
from app.charts import Series, bar_chart
from app.domain.money import (
    CURRENCY_EXPONENTS,
    Money,
    MoneyError,
    format_money,
)
from app.extensions import db, queues
from app.htmx_pages import page_or_partial
from app.keyset import cursor_arg
from app.models import Item
from app.models.payouts import Payout
from app.models.users import Role
from app.money_text import input_text, parse_amount
from app.services import form_intents
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.money import (
    bank_accounts,
    clawback_reports,
    escrow_reports,
    payout_rails,
    payouts,
    seller_reports,
)
from app.services.money.payout_settings import update_settings as update_payout_settings
from app.services.payments import capture_reports
from app.services.shop import addresses, digital, fulfilment

CHART_DAYS = 30
# Minimums are entered as an amount with two decimal places, whatever the currency.
MINIMUM_PLACES_CURRENCY = "EUR"


def _balances() -> dict:
    return {"balances": seller_reports.balances(current_user.id),
            "failures": seller_reports.unresolved_failures(current_user.id)}


def _to_ship() -> dict:
    # Digital lines are delivered at capture, never shipped (issue 17): the list leaves them
    # out and says which paid ones wait for keys; each physical line shows its address.
    holds = [h for h in seller_reports.to_ship(current_user.id)
             if not db.session.get(Item, h.line.item_id).digital]
    authorized = capture_reports.for_seller(current_user.id)
    orders = {h.order_id for h in holds} | {r.line.order_id for r in authorized["awaiting"]}
    return {"to_ship": holds,
            "chargebacks": seller_reports.open_chargebacks({h.order_id for h in holds}),
            "ship_to": {order_id: addresses.for_order(order_id) for order_id in orders},
            "in_transit": fulfilment.in_transit(current_user.id),
            "waiting_digital": digital.waiting_for_seller(current_user.id),
            # Per-shipment capture: authorized lines, charged to the buyer when shipped.
            "authorized": authorized,
            "ship_form": ShipForm(formdata=None)}


def _escrow() -> dict:
    return {"holds": escrow_reports.open_for_seller(current_user.id)}


def _payouts() -> dict:
    try:
        page = payouts.history_page(current_user.id,
                                    cursor_arg(request.args, "payouts_after"))
    except ServiceError as exc:
        service_abort(exc)
    return {"payouts": page.rows, "payouts_page": page,
            "reversals": clawback_reports.reversals(current_user.id),
            "account": bank_accounts.current_account(current_user.id),
            "rail": payout_rails.describe(current_user.id), "rail_of": payout_rails.rail_of}


def _payout_settings() -> dict:
    settings = seller_reports.payout_settings(current_user.id)
    minimum = input_text(Money(settings.minimum_amount, MINIMUM_PLACES_CURRENCY))
    return {"settings_form": PayoutSettingsForm(formdata=None, schedule=settings.schedule,
                                                weekday=settings.weekday, minimum=minimum)}


def _fees() -> dict:
    return {"fees": seller_reports.fee_breakdown(current_user.id)}


def _chart() -> dict:
    currencies = [b.currency for b in seller_reports.balances(current_user.id)]
    currency = request.args.get("currency", "")
    if currency not in currencies:
        currency = currencies[0] if currencies else None
    if currency is None:
        return {"chart": None, "chart_currency": None, "chart_currencies": []}
    days = seller_reports.daily_totals(current_user.id, currency, CHART_DAYS)
    chart = bar_chart([d.day for d in days], [
        Series("Sales", "sales", "#0b5cad", [d.sales for d in days]),
        Series("Fees", "fees", "#d97706", [d.fees for d in days]),
        Series("Payouts", "payouts", "#127a3d", [d.payouts for d in days]),
    ], lambda amount: format_money(Money(amount, currency)),
        f"Sales, fees and payouts per day, last {CHART_DAYS} days, {currency}")
    return {"chart": chart, "chart_currency": currency, "chart_currencies": currencies}


# name → (template, context loader); the full page is every partial together.
PARTIALS = {
    "balances": ("seller/_balances.html", _balances),
    "to_ship": ("seller/_to_ship.html", _to_ship),
    "escrow": ("seller/_escrow.html", _escrow),
    "payouts": ("seller/_payouts.html", _payouts),
    "payout_settings": ("seller/_payout_settings.html", _payout_settings),
    "fees": ("seller/_fees.html", _fees),
    "chart": ("seller/_chart.html", _chart),
}


PAGE = "seller/dashboard.html"


def _page_context() -> dict:
    context = {}
    for _, loader in PARTIALS.values():
        context.update(loader())
    context["items"] = db.session.execute(select(Item).where(Item.seller_id == current_user.id)
                                          .order_by(Item.id)).scalars().all()
    return context


def _partial(name: str, status: int = 200, trigger: str | None = None, **extra):
    """The partial for htmx, the whole dashboard for anyone else."""
    template, loader = PARTIALS[name]
    return page_or_partial(PAGE, template, lambda: {**loader(), **extra}, status=status,
                           page_context=_page_context, trigger=trigger)


def _answer(name: str, category: str, message: str, status: int = 200,
            trigger: str | None = None, **extra):
    """After an action: the changed partial with its notice (htmx), else flash and 303."""
    if not request.htmx:
        flash(message, category)
        return redirect(url_for("seller.dashboard"), code=303)
    return _partial(name, status, trigger, notice=(category, message), **extra)


@bp.get("")
@role_required(Role.SELLER)
def dashboard():
    """The whole dashboard, every partial rendered in place."""
    return page_or_partial(PAGE, None, _page_context)


@bp.get("/balances")
@role_required(Role.SELLER)
def balances_partial():
    """Balances per currency, and any payout failure the seller must act on; while one is
    shown the payout table refreshes too (a paid payout the bank sent back has no watcher)."""
    shown = request.htmx and seller_reports.unresolved_failures(current_user.id)
    return _partial("balances", trigger="payouts-changed" if shown else None)


@bp.get("/to-ship")
@role_required(Role.SELLER)
def to_ship_partial():
    """Captured lines waiting to be shipped."""
    return _partial("to_ship")


@bp.get("/escrow")
@role_required(Role.SELLER)
def escrow_partial():
    """Money still in escrow, with why and until when."""
    return _partial("escrow")


@bp.get("/payouts")
@role_required(Role.SELLER)
def payouts_partial():
    """Payout history; tells the balances to refresh once a watched payout has settled."""
    watched = request.htmx and request.args.get("watching") == "1"
    settled = watched and not any(p.status in ("pending", "in_transit")
                                  for p in payouts.history(current_user.id, 10))
    return _partial("payouts", trigger="balances-changed" if settled else None)


@bp.get("/payout-settings")
@role_required(Role.SELLER)
def payout_settings_partial():
    """The payout schedule form."""
    return _partial("payout_settings")


@bp.get("/fees")
@role_required(Role.SELLER)
def fees_partial():
    """Gross, fee and net per order."""
    return _partial("fees")


@bp.get("/chart")
@role_required(Role.SELLER)
def chart_partial():
    """The 30-day chart of one currency (?currency=EUR)."""
    return _partial("chart")


@bp.post("/escrow/<int:hold_id>/ship")
@role_required(Role.SELLER)
def ship(hold_id: int):
    """Mark one of the seller's lines shipped; another seller's line answers 404."""
    form = ShipForm()
    if not form.validate_on_submit():
        return _answer("to_ship", "error", "A tracking reference has at most 64 characters.",
                       400)
    try:
        fulfilment.mark_shipped(current_user.id, hold_id, form.carrier.data,
                                form.tracking_ref.data or "", current_actor())
    except NotFound:
        deny_object(f"escrow_hold:{hold_id}")
    except ServiceError as exc:
        return _answer("to_ship", "error", exc.message, exc.status)
    except RedisError:
        # Committed already; the periodic escrow sweep releases it on time without the timer job.
        current_app.logger.warning("no release timer queued for escrow %s", hold_id)
    return _answer("to_ship", "success", "Marked as shipped. The buyer can now confirm receipt.",
                   trigger="escrow-changed")


@bp.post("/lines/<int:line_capture_id>/ship")
@role_required(Role.SELLER)
def ship_authorized(line_capture_id: int):
    """Mark shipped a line whose payment is only authorized: the buyer's card is charged for
    it now (per-shipment capture); another seller's line answers 404."""
    form = ShipForm()
    if not form.validate_on_submit():
        return _answer("to_ship", "error", "A tracking reference has at most 64 characters.",
                       400)
    try:
        fulfilment.mark_authorized_shipped(current_user.id, line_capture_id, form.carrier.data,
                                           form.tracking_ref.data or "", current_actor())
    except NotFound:
        deny_object(f"line_capture:{line_capture_id}")
    except ServiceError as exc:
        return _answer("to_ship", "error", exc.message, exc.status)
    except RedisError:
        # Committed already; the periodic capture owner charges it without the job.
        current_app.logger.warning("no capture job queued for line capture %s", line_capture_id)
    return _answer("to_ship", "success", "Marked as shipped. The buyer's card is being charged "
                   "for this line.", trigger="escrow-changed")


@bp.post("/escrow/<int:hold_id>/delivered")
@role_required(Role.SELLER)
def delivered(hold_id: int):
    """The carrier delivered one of the seller's shipped lines; another seller's is 404."""
    if not DeliveredForm().validate_on_submit():
        return _answer("to_ship", "error", "The form expired; try again.", 400)
    try:
        fulfilment.mark_delivered(current_user.id, hold_id, current_actor())
    except NotFound:
        deny_object(f"escrow_hold:{hold_id}")
    except ServiceError as exc:
        return _answer("to_ship", "error", exc.message, exc.status)
    return _answer("to_ship", "success", "Marked as delivered; the buyer has been told.")


@bp.post("/payouts")
@role_required(Role.SELLER)
def pay_out_now():
    """Pay one currency's available balance out now (manual payout), then send it."""
    form = PayOutForm()
    currency = form.currency.data or ""
    if not form.validate_on_submit() or currency not in CURRENCY_EXPONENTS:
        return _answer("payouts", "error", "Choose a currency to pay out.", 400)
    try:  # the button's one-time key: a double click (or a resent POST) pays out once
        done = form_intents.once(request.form.get("intent"),
                                 f"seller:{current_user.id}:payout:{currency}",
                                 lambda: _pay_out(currency))
    except ServiceError as exc:
        return _answer("payouts", "error", exc.message, exc.status)
    return _answer("payouts", "success", done.message, trigger="balances-changed")


def _pay_out(currency: str) -> str:
    """Book and send one manual payout; what to tell the seller."""
    payout_id = payouts.book_payout(current_user.id, currency, current_actor(), manual=True)
    if payout_id is None:
        raise Conflict(f"Nothing is available to pay out in {currency}.")
    payout = db.session.get(Payout, payout_id)
    try:
        queues.enqueue("app.jobs.payouts.submit_payout", payout_id,
                       job_id=f"payout-submit-{payout_id}")
    except RedisError:  # booked: the payout sweep sends it (jobs.payouts.run_payouts)
        current_app.logger.error("payout %s booked but not queued for sending", payout_id)
        return f"Payout of {format_money(payout.total)} is booked; sending it is delayed."
    return (f"Payout of {format_money(payout.total)} is on its way to "
            f"{bank_accounts.MASK} {payout.destination_last4}.")


@bp.post("/payout-settings")
@role_required(Role.SELLER)
def payout_settings():
    """Change the payout schedule and minimum."""
    form = PayoutSettingsForm()
    if not form.validate_on_submit():
        errors = [e for field in form for e in field.errors]
        return _answer("payout_settings", "error", errors[0] if errors else
                       "Check the payout settings.", 400, settings_form=form)
    try:
        minimum = parse_amount(form.minimum.data, MINIMUM_PLACES_CURRENCY).amount
        update_payout_settings(current_user.id, form.schedule.data, form.weekday.data,
                                minimum, current_actor())
    except MoneyError as exc:
        form.minimum.errors = [f"The minimum payout: {exc}"]
        return _answer("payout_settings", "error", "Check the minimum payout.",
                       400, settings_form=form)
    except ServiceError as exc:
        return _answer("payout_settings", "error", exc.message, exc.status, settings_form=form)
    return _answer("payout_settings", "success", "Payout schedule saved.")
