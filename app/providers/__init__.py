"""Payment service providers behind one contract (base.PaymentProvider)."""
