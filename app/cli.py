"""flask commands: seed-demo, audit verify, inbox replay, ledger check, keys status/rotate, pci inventory,
staff create/enrolment-code, payouts rails/set-rail, fees (fee_cli.py), statements
(statement_cli.py), reconcile, worker, dev."""
from __future__ import annotations

import os
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from app.extensions import db


def report_problems(problems: list[str], all_clear: str) -> None:
    """Print each problem to stderr and exit 1, or print the all-clear line."""
    for line in problems:
        click.echo(line, err=True)
    if problems:
        sys.exit(1)
    click.echo(all_clear)


def _operator():
    """Who runs a command, for the audit log (whoever has a shell on the server)."""
    import getpass

    from app.services.audit import Actor

    return Actor(f"cli:{getpass.getuser()}", "cli")


def register(app: Flask) -> None:
    """Attach the commands to the app."""

    @app.cli.command("seed-demo")
    def seed_demo():
        """Create the demo accounts and items (development only; re-runnable)."""
        from app.services.demo import seed
        from app.services.errors import ServiceError

        try:
            created = seed()
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        click.echo("\n".join(created) if created else "demo data already present")

    audit_cli = AppGroup("audit", help="The tamper-evident audit log.")

    @audit_cli.command("verify")
    def audit_verify():
        """Check the audit log's hash chain; exit 1 and name each broken record."""
        from app.services.audit import verify_chain

        report_problems(verify_chain(), "audit log intact")

    app.cli.add_command(audit_cli)

    inbox_cli = AppGroup("inbox", help="The webhook inbox and its dead letters.")

    @inbox_cli.command("replay")
    @click.option("--id", "ids", multiple=True, type=int, help="A failed event (repeatable).")
    @click.option("--provider", default="", help="Only this provider's events.")
    @click.option("--from", "since", default="", help="Received at or after (2026-01-31T14:00).")
    @click.option("--to", "until", default="", help="Received at or before.")
    @click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
    def inbox_replay(ids, provider: str, since: str, until: str, dry_run: bool):
        """Replay failed webhook events (one, or many by provider and time range)."""
        from app.services import dead_letters

        try:
            wanted = dead_letters.parse_filter({"provider": provider, "from": since,
                                                "to": until})
        except dead_letters.FilterError as exc:
            raise click.ClickException(str(exc)) from None
        previews = dead_letters.dry_run(wanted, list(ids) or None)
        for p in previews:
            click.echo(f"#{p.event.id} {p.event.provider} {p.event.event_type} "
                       f"{p.target}: ours {p.ours or '-'}, PSP {p.psp or '-'} → {p.change}")
        if not previews:
            click.echo("no failed events match")
            return
        if dry_run:
            click.echo(f"dry run: {len(previews)} event(s) would be replayed; nothing changed")
            return
        replayed = dead_letters.replay([p.event.id for p in previews], _operator())
        click.echo(f"{len(replayed)} event(s) queued for processing again")

    app.cli.add_command(inbox_cli)

    ledger_cli = AppGroup("ledger", help="The double-entry ledger.")

    @ledger_cli.command("check")
    def ledger_check():
        """Check the ledger's invariants; exit 1 naming every offending posting."""
        from app.services.money.ledger_checks import check_all

        report_problems(check_all(), "ledger balanced: every invariant holds")

    app.cli.add_command(ledger_cli)

    keys_cli = AppGroup("keys", help="Encryption keys of the vault (sealed records).")

    @keys_cli.command("status")
    def keys_status():
        """Records per table and key id; exit 1 if any is under a key the config lacks."""
        from app.services.security.key_rotation import key_status

        rows = key_status()
        for table, key_id, count, standing in rows:
            click.echo(f"{table:24} {key_id:10} {count:8}  {standing}")
        if not rows:
            click.echo("no sealed records")
        if any(standing == "unknown" for *_, standing in rows):
            click.echo("records under a key missing from ENCRYPTION_KEY/ENCRYPTION_RETIRED_KEYS "
                       "cannot be opened", err=True)
            sys.exit(1)

    @keys_cli.command("rotate")
    @click.option("--batch-size", default=100, show_default=True, type=click.IntRange(1, 10_000),
                  help="Records per transaction.")
    def keys_rotate(batch_size: int):
        """Re-wrap every sealed record under ENCRYPTION_KEY; exit 1 naming any left behind."""
        from app.services.audit import Actor
        from app.services.security.key_rotation import rotate

        reports = rotate(Actor("system:keys-rotate", "cli"), batch_size=batch_size)
        for report in reports:
            click.echo(f"{report.table}: {report.rewrapped} re-wrapped, "
                       f"{len(report.failed)} failed")
            for problem in report.failed:
                click.echo(f"{report.table} {problem}", err=True)
        if any(report.failed for report in reports):
            sys.exit(1)

    app.cli.add_command(keys_cli)

    pci_cli = AppGroup("pci", help="PCI DSS checks of the payment pages.")

    @pci_cli.command("inventory")
    def pci_inventory():
        """Print the payment-page script inventory with live hashes; exit 1 if any differs
        from docs/pci-script-inventory.json (review the script, then update the file)."""
        import json

        from app.pci_inventory import (
            hash_differences,
            live_inventory,
            load_committed,
            psp_script_differences,
        )
        from app.providers.registry import card_fields_scripts, fetch_script

        committed = load_committed()
        live = live_inventory(committed, app.static_folder)
        click.echo(json.dumps(live, indent=2, ensure_ascii=False))
        problems = hash_differences(committed, live) + psp_script_differences(
            committed, card_fields_scripts(), fetch_script)
        for line in problems:
            click.echo(f"script inventory changed: {line}", err=True)
        if problems:
            sys.exit(1)

    app.cli.add_command(pci_cli)

    staff_cli = AppGroup("staff", help="Staff accounts (the first admin of a new install).")

    @staff_cli.command("create")
    @click.argument("email")
    @click.option("--role", type=click.Choice(["admin", "support"]), default="admin",
                  show_default=True)
    @click.option("--name", default="", help="Display name (default: the email).")
    def staff_create(email: str, role: str, name: str):
        """Create a staff account; prints its temporary password once."""
        from app.services.errors import ServiceError
        from app.services.security import staff

        try:
            _, password = staff.create_staff(email, name, role, _operator())
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"temporary password (shown once): {password}")

    @staff_cli.command("enrolment-code")
    @click.argument("email")
    def staff_enrolment_code(email: str):
        """Issue a one-time code (24 h) with which EMAIL sets up two-step sign-in."""
        from app.services.errors import ServiceError
        from app.services.security import enrolment_codes, staff

        try:
            issued = enrolment_codes.issue(staff.find_staff_id(email), _operator())
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"enrolment code (shown once): {issued.code}")
        click.echo(f"valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC; it replaces older ones")

    app.cli.add_command(staff_cli)

    payouts_cli = AppGroup("payouts", help="Sellers' payout rails (docs/money.md).")

    @payouts_cli.command("rails")
    def payouts_rails():
        """List every seller's payout rail and who pays them today."""
        from app.services.money import payout_rails

        for row in payout_rails.sellers():
            click.echo(f"{row.email}\t{row.rail or 'default'}\t{row.account_ref or '-'}\t"
                       f"{row.paid_by}")

    @payouts_cli.command("set-rail")
    @click.argument("email")
    @click.argument("rail", type=click.Choice(["default", "sandbox", "sandbox_us", "stripe",
                                               "braintree"]))
    @click.option("--account", "account_ref", default=None,
                  help="Braintree: the seller's sub-merchant account id.")
    def payouts_set_rail(email: str, rail: str, account_ref: str | None):
        """Choose the rail that pays the seller EMAIL (audited)."""
        from app.services.errors import ServiceError
        from app.services.money import payout_rails

        try:
            seller_id = payout_rails.seller_id_by_email(email)
            payout_rails.set_rail(seller_id, None if rail == "default" else rail, _operator(),
                                  account_ref=account_ref)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"{email}: {payout_rails.describe(seller_id)}")

    app.cli.add_command(payouts_cli)

    from app.fee_cli import fees_cli
    from app.statement_cli import statements_cli

    app.cli.add_command(fees_cli)
    app.cli.add_command(statements_cli)

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
    @click.option("--queue", "queue_names", multiple=True,
                  help="Listen to these queues, first first (default: every routed queue, "
                       "then the default one).")
    @click.option("--class", "worker_class", type=click.Choice(["fork", "simple"]),
                  default="fork", envvar="WORKER_CLASS", show_default=True,
                  help="fork: a work horse per job; simple: every job in this process "
                       "(faster, less isolated; docs/operations.md).")
    def worker(burst: bool, queue_names: tuple[str, ...], worker_class: str):
        """Run an RQ worker with the scheduler (delayed and periodic jobs)."""
        from app import pause_points
        from app.extensions import queues
        from app.jobs.scheduling import seed_when_reachable
        from app.jobs.workers import WORKER_CLASSES

        def _after_fork():
            # A forked job must not share the parent's database connections.
            db.engine.dispose(close=False)
            pause_points.reset_after_fork()

        os.register_at_fork(after_in_child=_after_fork)
        seed_when_reachable()
        listen = [queues.named(n) for n in queue_names] if queue_names else queues.all_queues()
        chosen = WORKER_CLASSES[worker_class]
        chosen(listen, connection=queues.connection,
               maintenance_interval=app.config["PERIODIC_CHECK_SECONDS"]).work(
            with_scheduler=True, burst=burst, logging_level="INFO")

    @app.cli.command("reconcile")
    @click.option("--provider", "providers", multiple=True,
                  help="A PSP with settlement data (default: every one configured).")
    @click.option("--date", "day", default=None, help="The UTC day, YYYY-MM-DD (default: yesterday).")
    def reconcile(providers: tuple[str, ...], day: str | None):
        """Import and match a day of settlement data; exit 1 while any difference is unresolved."""
        from app.services.reconciliation import reconcile_cli

        sys.exit(reconcile_cli.run(providers, day, _operator(), click.echo))

    from app.fx_tax_cli import register as register_fx_tax
    register_fx_tax(app, _operator)  # flask fx …, flask tax …

    @app.cli.command("dev")
    def dev():
        """Start the platform, the sandbox PSP and a worker; Ctrl-C stops them all."""
        from app.launcher import run_all

        sys.exit(run_all(app))
