"""flask commands for reference exchange rates and the tax rates table:
`flask fx refresh [--source URL|FILE]`, `flask tax import FILE`, `flask tax export`,
`flask tax report --start --end` (CSV on stdout)."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup


def register(app: Flask, operator) -> None:
    """Attach the fx and tax command groups; `operator()` names who runs them (audit)."""
    fx_cli = AppGroup("fx", help="Reference exchange rates (ECB format).")

    @fx_cli.command("refresh")
    @click.option("--source", default=None, help="A URL or file (default FX_RATES_SOURCE).")
    def fx_refresh(source: str | None):
        """Read the rates source into the rates table now."""
        from app.domain.fx import FxError
        from app.services.money import fx

        try:
            table = fx.refresh(operator(), source)
        except FxError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"rates of {table.as_of}: {len(table.per_eur)} currencies")

    app.cli.add_command(fx_cli)

    tax_cli = AppGroup("tax", help="The tax rates table and the tax report.")

    @tax_cli.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def tax_import(path: str):
        """Replace the rates table with a rates file (country,category,rate)."""
        from app.services.errors import ServiceError
        from app.services.shop import tax

        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        try:
            count = tax.import_csv(text, operator())
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"{count} rates loaded")

    @tax_cli.command("export")
    def tax_export():
        """Print the rates table as a rates file."""
        from app.services.shop import tax

        click.echo(tax.export_csv(), nl=False)

    @tax_cli.command("report")
    @click.option("--start", required=True, type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--end", required=True, type=click.DateTime(["%Y-%m-%d"]))
    def tax_report(start, end):
        """Tax collected per country and currency in the period, as CSV."""
        from app.services.errors import ServiceError
        from app.services.shop import tax

        try:
            click.echo(tax.report_csv(start.date(), end.date()), nl=False)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None

    app.cli.add_command(tax_cli)
