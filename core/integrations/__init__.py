"""Integrations: the outbox that carries attendance to ERPNext, Odoo and signed webhooks."""
