"""Tables of the sandbox PSP; its own `db`, never shared with the platform."""
import json
import secrets
import time

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event

db = SQLAlchemy()


def new_id(prefix: str) -> str:
    """A Stripe-like object id such as `ps_3f9a…`."""
    return f"{prefix}_{secrets.token_hex(12)}"


def now() -> int:
    """Current Unix time in whole seconds, as every object's `created`."""
    return int(time.time())


def configure_sqlite(engine) -> None:
    """WAL, a busy timeout and BEGIN IMMEDIATE, because request threads and the deliverer all write."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A deferred read-then-write transaction fails at once with "database is
        # locked" in WAL mode; taking the write lock up front makes it wait instead.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class JsonText(db.TypeDecorator):
    """A JSON value stored as text (compact, key order kept)."""

    impl = db.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Python value -> JSON text."""
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def process_result_value(self, value, dialect):
        """JSON text -> Python value."""
        return None if value is None else json.loads(value)


class PaymentSession(db.Model):
    """One buyer payment: amount, page mode, status and what was authorized, captured, refunded."""

    __tablename__ = "payment_sessions"
    id = db.Column(db.String(40), primary_key=True)
    created = db.Column(db.Integer, nullable=False)
    amount = db.Column(db.Integer, nullable=False)
    currency = db.Column(db.String(3), nullable=False)
    mode = db.Column(db.String(10), nullable=False)
    capture_method = db.Column(db.String(10), nullable=False)
    status = db.Column(db.String(20), nullable=False, default="open")
    amount_authorized = db.Column(db.Integer, nullable=False, default=0)
    amount_captured = db.Column(db.Integer, nullable=False, default=0)
    amount_refunded = db.Column(db.Integer, nullable=False, default=0)
    client_reference_id = db.Column(db.String(200), index=True)
    metadata_ = db.Column("metadata", JsonText, nullable=False, default=dict)
    return_url = db.Column(db.Text)
    cancel_url = db.Column(db.Text)
    parent_origin = db.Column(db.Text)
    base_url = db.Column(db.Text, nullable=False)
    last_payment_error = db.Column(JsonText)
    # Card display data only: never the number or the CVC (PCI DSS 3.3.1, 3.5.1).
    payment_method = db.Column(JsonText)
    fee = db.Column(JsonText)
    expires_at = db.Column(db.Integer, nullable=False, index=True)
    form_token = db.Column(db.String(64), nullable=False)
    # Authorized with the dispute test card: capturing it opens a dispute (disputes.open_for).
    dispute_card = db.Column(db.Boolean, nullable=False, default=False)
    # Its own table, so databases made before saved cards existed keep working (create_all).
    setup = db.relationship("SessionSetup", uselist=False, lazy="joined")
    # The same for fraud: 3-D Secure asked for by the platform, the issuer's risk verdict.
    risk = db.relationship("SessionRisk", uselist=False, lazy="joined")
    # Multicapture (Stripe's capture_method=manual + request_multicapture): each partial
    # capture against the one authorization, in order.
    captures = db.relationship("SessionCapture", order_by="SessionCapture.seq", lazy="selectin")

    def to_dict(self) -> dict:
        """The API's `payment_session` object."""
        return {
            "id": self.id, "object": "payment_session", "created": self.created, "livemode": False,
            "amount": self.amount, "currency": self.currency, "mode": self.mode,
            "capture_method": self.capture_method, "status": self.status,
            "amount_authorized": self.amount_authorized, "amount_captured": self.amount_captured,
            "amount_refunded": self.amount_refunded,
            "client_reference_id": self.client_reference_id, "metadata": self.metadata_ or {},
            "return_url": self.return_url, "cancel_url": self.cancel_url,
            "parent_origin": self.parent_origin,
            # A fields session has no card page of its own: its `url` is where the buyer
            # authenticates (3-D Secure) when the card asks for it.
            "url": f"{self.base_url}/{'auth' if self.mode == 'fields' else 'pay'}/{self.id}",
            "embed_url": f"{self.base_url}/embed/{self.id}",
            "last_payment_error": self.last_payment_error, "payment_method": self.payment_method,
            "fee": self.fee, "expires_at": self.expires_at,
            "setup_future_usage": self.setup.usage if self.setup else None,
            "request_three_d_secure": self.risk.three_d_secure if self.risk else "automatic",
            "outcome": self.risk.outcome() if self.risk and self.risk.risk_level else None,
            # What may still be captured: nothing once a final capture or a void released it.
            "amount_capturable": (self.amount_authorized - self.amount_captured
                                  if self.status in ("authorized", "partially_captured") else 0),
            "captures": [c.to_dict() for c in self.captures],
        }


class SessionCapture(db.Model):
    """One capture of a session (`cap_…`): its amount, whether it was the final one, its fee.
    A whole-session capture is one of these too, with final set."""

    __tablename__ = "session_captures"
    id = db.Column(db.String(40), primary_key=True)
    seq = db.Column(db.Integer, primary_key=False, nullable=False)
    session_id = db.Column(db.String(40), db.ForeignKey("payment_sessions.id"), nullable=False,
                           index=True)
    created = db.Column(db.Integer, nullable=False)
    amount = db.Column(db.Integer, nullable=False)
    final = db.Column(db.Boolean, nullable=False)
    fee = db.Column(db.Integer, nullable=False)

    def to_dict(self) -> dict:
        """The `capture` object inside a session."""
        return {"id": self.id, "object": "capture", "created": self.created,
                "amount": self.amount, "final_capture": self.final, "fee": self.fee}


class SessionRisk(db.Model):
    """A session's fraud facts, like Stripe's: whether the platform asked for 3-D Secure on
    every card (`request_three_d_secure` "any") and the risk verdict of the last card tried."""

    __tablename__ = "session_risks"
    session_id = db.Column(db.String(40), db.ForeignKey("payment_sessions.id"), primary_key=True)
    three_d_secure = db.Column(db.String(10), nullable=False, default="automatic")
    risk_level = db.Column(db.String(10))   # normal | elevated | highest
    risk_score = db.Column(db.Integer)
    blocked = db.Column(db.Boolean, nullable=False, default=False)

    def outcome(self) -> dict:
        """The session's `outcome` object (Stripe's charge.outcome, trimmed)."""
        return {"risk_level": self.risk_level, "risk_score": self.risk_score,
                "type": "blocked" if self.blocked else "authorized"}


class SessionSetup(db.Model):
    """A session that asked to keep its card for later (`setup_future_usage`), and for whom."""

    __tablename__ = "session_setups"
    session_id = db.Column(db.String(40), db.ForeignKey("payment_sessions.id"), primary_key=True)
    scope = db.Column(db.String(64), nullable=False)  # the creating API key's hash: the owner
    usage = db.Column(db.String(12), nullable=False)  # on_session | off_session
    # The test issuer's answer for the card being authorized, noted while the number is in
    # memory, since the number is never kept (the same idea as a payout's settles_as).
    card_outcome = db.Column(db.String(20))


class PaymentMethod(db.Model):
    """A reusable card (`pm_…`) of one API key: display data, a keyed fingerprint and the test
    issuer's answer for it. Never the number or the CVC."""

    __tablename__ = "payment_methods"
    id = db.Column(db.String(40), primary_key=True)
    scope = db.Column(db.String(64), nullable=False, index=True)
    created = db.Column(db.Integer, nullable=False)
    brand = db.Column(db.String(20), nullable=False)
    last4 = db.Column(db.String(4), nullable=False)
    exp_month = db.Column(db.Integer, nullable=False)
    exp_year = db.Column(db.Integer, nullable=False)
    fingerprint = db.Column(db.String(64), nullable=False)
    outcome = db.Column(db.String(20), nullable=False)  # succeed | three_d_secure | dispute
    session_id = db.Column(db.String(40), nullable=False)  # the session that saved it

    def display(self) -> dict:
        """A session's `payment_method` when paid with this one: the id plus display data."""
        return {"id": self.id, "brand": self.brand, "last4": self.last4,
                "exp_month": self.exp_month, "exp_year": self.exp_year,
                "fingerprint": self.fingerprint}


class CardToken(db.Model):
    """A single-use card token (`tok_…`) made in the browser by the card fields: what a saved
    method keeps (display data, keyed fingerprint, the test issuer's answer and risk verdict,
    noted while the number was in memory), never the number or the CVC. It belongs to the API
    key whose publishable key made it, expires after SANDBOX_TOKEN_TTL and pays one session."""

    __tablename__ = "card_tokens"
    id = db.Column(db.String(40), primary_key=True)
    scope = db.Column(db.String(64), nullable=False, index=True)
    created = db.Column(db.Integer, nullable=False)
    expires_at = db.Column(db.Integer, nullable=False)
    used_by = db.Column(db.String(40))  # the session it paid; set once
    card = db.Column(JsonText, nullable=False)       # display data, as a session shows it
    outcome = db.Column(JsonText, nullable=False)    # "succeed" … or [code, decline_code, message]
    risk_level = db.Column(db.String(10), nullable=False)
    risk_score = db.Column(db.Integer, nullable=False)
    blocked = db.Column(db.Boolean, nullable=False, default=False)

    def to_dict(self) -> dict:
        """The API's `token` object: the id and what may be shown of the card."""
        shown = {k: self.card[k] for k in ("brand", "last4", "exp_month", "exp_year")}
        return {"id": self.id, "object": "token", "created": self.created, "livemode": False,
                "used": self.used_by is not None, "card": shown}


class Event(db.Model):
    """A state change, with a snapshot of the object as it was then."""

    __tablename__ = "events"
    seq = db.Column(db.Integer, primary_key=True, autoincrement=True)  # total order for listing
    id = db.Column(db.String(40), unique=True, nullable=False)
    type = db.Column(db.String(60), nullable=False, index=True)
    created = db.Column(db.Integer, nullable=False)
    data = db.Column(JsonText, nullable=False)

    def to_dict(self) -> dict:
        """The API's `event` object."""
        return {"id": self.id, "object": "event", "type": self.type, "created": self.created,
                "data": {"object": self.data}}


class Delivery(db.Model):
    """Sending one event to the webhook URL, retried until 2xx or given up."""

    __tablename__ = "deliveries"
    id = db.Column(db.Integer, primary_key=True)
    event_id = db.Column(db.String(40), db.ForeignKey("events.id"), nullable=False, index=True)
    url = db.Column(db.Text, nullable=False)
    status = db.Column(db.String(12), nullable=False, default="pending")  # pending|succeeded|failed
    attempt_count = db.Column(db.Integer, nullable=False, default=0)
    next_attempt_at = db.Column(db.Float, index=True)
    created = db.Column(db.Integer, nullable=False)
    event = db.relationship("Event")
    attempts = db.relationship("DeliveryAttempt", order_by="DeliveryAttempt.id", back_populates="delivery")


class DeliveryAttempt(db.Model):
    """One POST of a delivery: when, the answer's status code, or the transport error."""

    __tablename__ = "delivery_attempts"
    id = db.Column(db.Integer, primary_key=True)
    delivery_id = db.Column(db.Integer, db.ForeignKey("deliveries.id"), nullable=False, index=True)
    attempted_at = db.Column(db.Float, nullable=False)
    status_code = db.Column(db.Integer)
    error = db.Column(db.Text)
    delivery = db.relationship("Delivery", back_populates="attempts")


class IdempotencyKey(db.Model):
    """A request's Idempotency-Key: in progress, then its saved first response."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (db.UniqueConstraint("scope", "key"),)
    id = db.Column(db.Integer, primary_key=True)
    scope = db.Column(db.String(64), nullable=False)  # hash of the API key, never the key
    key = db.Column(db.String(255), nullable=False)
    request_fingerprint = db.Column(db.String(64), nullable=False)
    created = db.Column(db.Integer, nullable=False)
    executions = db.Column(db.Integer, nullable=False, default=0)
    response_status = db.Column(db.Integer)  # NULL while the first request is executing
    response_body = db.Column(db.Text)


class atomic:
    """Commit the work of a block; roll it back on a failure.

    An ApiError is an answer, not a failure: what led to it (a recorded decline,
    an expiry) is committed before it propagates.
    """

    def __enter__(self):
        return db.session

    def __exit__(self, exc_type, exc, tb):
        from .errors import ApiError  # errors imports nothing from here; avoid a cycle anyway

        if exc_type is None or issubclass(exc_type, ApiError):
            db.session.commit()
        else:
            db.session.rollback()
        return False


# The money records live in their own module; imported here so that `sandbox_psp.models` keeps
# naming every table (and the mappers are registered with the sessions').
from .money_models import BalanceTransaction, Dispute, Payout, Refund  # noqa: E402,F401
