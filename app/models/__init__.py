"""SQLAlchemy tables, one module per aggregate; importing this registers them all."""
from app.models.audit import AuditRecord
from app.models.catalogue import CartItem, Item
from app.models.orders import Order, OrderLine, OrderStatus
from app.models.payments import Payment, PaymentStatusChange
from app.models.users import Role, User
from app.models.webhooks import InboxStatus, WebhookEvent

__all__ = ["AuditRecord", "CartItem", "InboxStatus", "Item", "Order", "OrderLine", "OrderStatus",
           "Payment", "PaymentStatusChange", "Role", "User", "WebhookEvent"]
