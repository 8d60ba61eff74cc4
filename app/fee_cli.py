"""flask fees list / set / delete / preview: the platform fee rules from a shell (the same
service, validation and audit record as the admin page)."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db

fees_cli = AppGroup("fees", help="Platform fee rules (per seller and per category).")


def _seller_id(email: str | None) -> int | None:
    from app.models import User

    if not email:
        return None
    found = db.session.execute(select(User.id).where(User.email == email.lower())).scalar()
    if found is None:
        raise click.ClickException(f"no user {email}")
    return found


def _rule(bps: int, fixed: int, minimum: int, maximum: int | None):
    from app.services.errors import ServiceError
    from app.services.money import fee_rules

    try:
        return fee_rules.build_rule(bps, fixed, minimum, maximum)
    except ServiceError as exc:
        raise click.ClickException(f"--{exc.field}: {exc.message}") from None


@fees_cli.command("list")
def fees_list():
    """Every rule, most general first, and the platform default from the settings."""
    from app.models import User
    from app.services.money import fee_rules

    click.echo(f"default (settings): {fee_rules.default_rule().describe()}")
    for row in fee_rules.rules():
        who = db.session.get(User, row.seller_id).email if row.seller_id else "every seller"
        click.echo(f"#{row.id}\t{who}\t{row.category or 'every category'}\t"
                   f"{fee_rules.as_rule(row).describe()}")


@fees_cli.command("set")
@click.option("--seller", "seller_email", help="Seller's email (default: every seller).")
@click.option("--category", help="Category slug (default: every category).")
@click.option("--bps", type=int, required=True, help="Basis points: 100 = 1 %.")
@click.option("--fixed", type=int, default=0, help="Fixed part, minor units.")
@click.option("--min", "minimum", type=int, default=0, help="Minimum fee, minor units.")
@click.option("--max", "maximum", type=int, default=None, help="Maximum fee, minor units.")
def fees_set(seller_email, category, bps, fixed, minimum, maximum):
    """Create or replace a rule; applies to orders placed from now on (audited)."""
    from app.cli import _operator
    from app.services.errors import ServiceError
    from app.services.money import fee_rules

    rule = _rule(bps, fixed, minimum, maximum)
    try:
        rule_id = fee_rules.set_rule(_seller_id(seller_email), category, rule, _operator())
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"rule #{rule_id} saved: {rule.describe()}")


@fees_cli.command("delete")
@click.argument("rule_id", type=int)
def fees_delete(rule_id: int):
    """Remove a rule (audited); the next more general one applies to new orders."""
    from app.cli import _operator
    from app.services.errors import ServiceError
    from app.services.money import fee_rules

    try:
        fee_rules.delete_rule(rule_id, _operator())
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"rule #{rule_id} removed")


@fees_cli.command("preview")
@click.option("--amount", type=int, required=True, help="A sample line, minor units.")
@click.option("--seller", "seller_email", help="Show the rule in force for this seller.")
@click.option("--category", default="general")
@click.option("--bps", type=int, help="Preview this rule instead of the one in force.")
@click.option("--fixed", type=int, default=0)
@click.option("--min", "minimum", type=int, default=0)
@click.option("--max", "maximum", type=int, default=None)
def fees_preview(amount, seller_email, category, bps, fixed, minimum, maximum):
    """The fee a sample line pays: under a proposed rule (--bps …) or the one in force."""
    from app.services.errors import ServiceError
    from app.services.money import fee_rules

    if bps is not None:
        rule, source = _rule(bps, fixed, minimum, maximum), "proposed"
    elif seller_email:
        rule, source = fee_rules.rule_for(_seller_id(seller_email), category)
    else:
        raise click.UsageError("give --bps for a proposed rule, or --seller for the one in force")
    try:
        result = fee_rules.preview(rule, amount, source)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{source}: {rule.describe()} → fee {result.fee}, seller keeps {result.net} "
               f"(of {amount})")
