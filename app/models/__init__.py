"""SQLAlchemy tables, one module per aggregate; importing this registers them all."""
from app.models.audit import AuditRecord
from app.models.bank_accounts import BankAccount
from app.models.captures import LineCapture  # noqa: F401  (per-shipment capture)
from app.models.catalogue import CartItem, Item, ItemCategory  # noqa: F401  (admin categories)
from app.models.disputes import CaseEvent, DisputeCase, EvidenceFile
from app.models.escrow import EscrowHold, EscrowOpenDay, PayoutSettings, SellerFeeRule
from app.models.form_intents import FormIntent  # noqa: F401  (one-time form keys)
from app.models.fraud import FraudListEntry  # noqa: F401  (fraud lists)
from app.models.fulfilment import (  # noqa: F401  (issue 17)
    Address,
    DigitalDelivery,
    DigitalFile,
    LicenceKey,
    OrderAddress,
    Shipment,
)
from app.models.fx_tax import FxRate, TaxRateRow  # noqa: F401  (rates tables)
from app.models.ledger import LedgerEntry, LedgerTransaction
from app.models.notifications import Notification
from app.models.orders import Order, OrderLine, OrderStatus
from app.models.payments import Payment, PaymentStatusChange
from app.models.payouts import FundingTransfer, Payout, TreasuryConversion  # noqa: F401
from app.models.provider_accounts import ProviderAccount
from app.models.psp_calls import PspCall  # noqa: F401  (the PSP call log)
from app.models.reconciliation import (  # noqa: F401  (settlement and reconciliation)
    Difference,
    ReconciliationPosting,
    SettlementImport,
    SettlementLine,
)
from app.models.refunds import Refund, RefundLine
from app.models.reporting import DailyRollup, DailyTotal, RollupMark  # noqa: F401  (roll-ups)
from app.models.security import MfaSecret, RecoveryCode, SavedPaymentMethod
from app.models.statements import SellerStatement, StatementDocument  # noqa: F401
from app.models.transfer_reversals import TransferReversal  # noqa: F401  (Stripe Connect)
from app.models.users import Role, User
from app.models.webhooks import InboxStatus, WebhookEvent

__all__ = ["CaseEvent", "DisputeCase", "EvidenceFile", "EscrowHold", "EscrowOpenDay", "LedgerEntry", "LedgerTransaction", "Payout", "PayoutSettings",
           "SellerFeeRule", "Notification", "MfaSecret", "RecoveryCode",
           "SavedPaymentMethod", "AuditRecord", "BankAccount", "CartItem", "InboxStatus", "Item", "Order", "OrderLine",
           "OrderStatus", "Payment", "PaymentStatusChange", "ProviderAccount", "Refund", "RefundLine", "Role", "User", "WebhookEvent"]
