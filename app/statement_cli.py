"""flask statements verify / public-key / issue: check a downloaded seller statement against
the platform's published keys and its record in the audit chain (docs/statements.md)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

statements_cli = AppGroup("statements", help="Signed seller statements.")


@statements_cli.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("signature", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def statements_verify(file: Path, signature: Path):
    """Verify FILE with its SIGNATURE (.sig.json): Ed25519 over the file's hash, and the audit
    record it names, in an intact chain. Exit 1 on any problem."""
    from app.services.money.statement_issue import verify_with_chain
    from app.statement_verify import describe

    verdict, chain = verify_with_chain(file.read_bytes(), json.loads(signature.read_text()))
    click.echo("\n".join(describe(verdict)))
    if chain:
        click.echo("AUDIT CHAIN: NOT CONFIRMED")
        for problem in chain:
            click.echo(f"  - {problem}")
    elif verdict.ok:
        click.echo("  audit chain: the record is there, logged this file's SHA-256, "
                   "and the chain verifies")
    if chain or not verdict.ok:
        sys.exit(1)


@statements_cli.command("public-key")
@click.option("--json", "as_json", is_flag=True, help="The published JSON key list instead.")
def statements_public_key(as_json: bool):
    """Print the public keys (current first) that verify statements: publish them."""
    from app.services import statement_keys
    from app.services.money.statement_issue import public_key_document

    click.echo(json.dumps(public_key_document(), indent=2) if as_json
               else statement_keys.public_pem(), nl=as_json)


@statements_cli.command("issue")
@click.option("--seller", "email", required=True, help="The seller's email.")
@click.option("--period", required=True, help='"payout:<id>" or "month:YYYY-MM".')
@click.option("--currency", required=True)
def statements_issue(email: str, period: str, currency: str):
    """Issue a statement now (sellers issue their own from the statements page)."""
    from sqlalchemy import select

    from app.cli import _operator
    from app.extensions import db
    from app.models import User
    from app.services.errors import ServiceError
    from app.services.money.statement_issue import issue

    seller_id = db.session.execute(select(User.id).where(User.email == email.lower())).scalar()
    if seller_id is None:
        raise click.ClickException(f"no user {email}")
    try:
        click.echo(f"statement #{issue(seller_id, period, currency, _operator())}")
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
