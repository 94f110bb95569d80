"""Business flows: clients, invoices, payments."""
