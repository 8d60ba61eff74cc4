"""The sandbox's money records beside its sessions: refunds, payouts to sellers' banks,
disputes, and the balance transactions every movement leaves (modelled on Stripe's)."""
from .models import JsonText, db, now


class Refund(db.Model):
    """Money returned to the buyer from a captured session."""

    __tablename__ = "refunds"
    id = db.Column(db.String(40), primary_key=True)
    created = db.Column(db.Integer, nullable=False)
    payment_session_id = db.Column(db.String(40), db.ForeignKey("payment_sessions.id"), nullable=False, index=True)
    amount = db.Column(db.Integer, nullable=False)
    currency = db.Column(db.String(3), nullable=False)
    status = db.Column(db.String(12), nullable=False)
    reason = db.Column(db.String(40))
    metadata_ = db.Column("metadata", JsonText, nullable=False, default=dict)

    def to_dict(self) -> dict:
        """The API's `refund` object."""
        return {
            "id": self.id, "object": "refund", "amount": self.amount, "currency": self.currency,
            "payment_session": self.payment_session_id, "status": self.status,
            "reason": self.reason, "metadata": self.metadata_ or {}, "created": self.created,
        }


class Payout(db.Model):
    """Money sent from the balance to a seller's bank account, settled later by the deliverer."""

    __tablename__ = "payouts"
    seq = db.Column(db.Integer, primary_key=True, autoincrement=True)  # total order for listing
    id = db.Column(db.String(40), unique=True, nullable=False)
    created = db.Column(db.Integer, nullable=False)
    amount = db.Column(db.Integer, nullable=False)
    currency = db.Column(db.String(3), nullable=False, index=True)
    status = db.Column(db.String(10), nullable=False, default="pending")  # pending|paid|failed
    # type, last 4 and a keyed fingerprint only: never the IBAN or the account number.
    destination = db.Column(JsonText, nullable=False)
    holder_name = db.Column(db.String(200), nullable=False)
    description = db.Column(db.String(500))
    metadata_ = db.Column("metadata", JsonText, nullable=False, default=dict)
    # What the test bank will answer ("paid" or a failure code), decided while the account
    # number is still in memory, since it is not kept.
    settles_as = db.Column(db.String(30), nullable=False)
    settle_at = db.Column(db.Float, nullable=False, index=True)
    arrival_date = db.Column(db.Integer, nullable=False)
    failure_code = db.Column(db.String(30))
    failure_message = db.Column(db.Text)

    def to_dict(self) -> dict:
        """The API's `payout` object."""
        return {
            "id": self.id, "object": "payout", "amount": self.amount, "currency": self.currency,
            "status": self.status,
            "destination": {"type": self.destination["type"], "last4": self.destination["last4"]},
            "holder_name": self.holder_name, "description": self.description,
            "failure_code": self.failure_code, "failure_message": self.failure_message,
            "arrival_date": self.arrival_date, "created": self.created, "metadata": self.metadata_ or {},
        }


class Dispute(db.Model):
    """A buyer's chargeback of a captured session: its amount and a fee are withdrawn while open."""

    __tablename__ = "disputes"
    seq = db.Column(db.Integer, primary_key=True, autoincrement=True)  # total order for listing
    id = db.Column(db.String(40), unique=True, nullable=False)
    created = db.Column(db.Integer, nullable=False)
    payment_session_id = db.Column(db.String(40), db.ForeignKey("payment_sessions.id"), nullable=False, index=True)
    amount = db.Column(db.Integer, nullable=False)
    currency = db.Column(db.String(3), nullable=False)
    fee_amount = db.Column(db.Integer, nullable=False)
    reason = db.Column(db.String(40), nullable=False)
    status = db.Column(db.String(20), nullable=False)  # needs_response|under_review|won|lost
    evidence = db.Column(JsonText, nullable=False, default=dict)
    due_by = db.Column(db.Integer, nullable=False)
    submission_count = db.Column(db.Integer, nullable=False, default=0)
    form_token = db.Column(db.String(64), nullable=False)  # the dashboard's buttons post it back

    def to_dict(self) -> dict:
        """The API's `dispute` object."""
        return {
            "id": self.id, "object": "dispute", "payment_session": self.payment_session_id,
            "amount": self.amount, "currency": self.currency, "reason": self.reason,
            "status": self.status, "fee": {"amount": self.fee_amount, "currency": self.currency},
            "evidence": self.evidence or {},
            "evidence_details": {"due_by": self.due_by, "submission_count": self.submission_count},
            "created": self.created, "livemode": False,
        }


class BalanceTransaction(db.Model):
    """One movement of the platform's balance (Stripe's `balance_transaction`): gross `amount`
    (signed), the PSP's `fee`, `net`, when it is available, and the payout it belongs to."""

    __tablename__ = "balance_transactions"
    seq = db.Column(db.Integer, primary_key=True, autoincrement=True)  # total order for listing
    id = db.Column(db.String(40), unique=True, nullable=False)
    created = db.Column(db.Integer, nullable=False, index=True)
    type = db.Column(db.String(20), nullable=False)
    reporting_category = db.Column(db.String(24), nullable=False)
    source = db.Column(db.String(40), index=True)   # ps_…, re_…, dp_…, po_…; none for adjustments
    amount = db.Column(db.Integer, nullable=False)
    fee = db.Column(db.Integer, nullable=False, default=0)
    net = db.Column(db.Integer, nullable=False)
    currency = db.Column(db.String(3), nullable=False)
    available_on = db.Column(db.Integer, nullable=False)
    payout = db.Column(db.String(40), index=True)
    # The payment session a card movement belongs to (Stripe's report: `charge_id`).
    charge = db.Column(db.String(40))
    description = db.Column(db.String(500), nullable=False, default="")

    def to_dict(self) -> dict:
        """The API's `balance_transaction` object."""
        return {
            "id": self.id, "object": "balance_transaction", "type": self.type,
            "reporting_category": self.reporting_category, "source": self.source,
            "amount": self.amount, "fee": self.fee, "net": self.net, "currency": self.currency,
            "created": self.created, "available_on": self.available_on,
            "status": "available" if self.available_on <= now() else "pending",
            "payout": self.payout, "charge": self.charge, "description": self.description,
        }
