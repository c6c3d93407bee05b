"""The CRM mock: customers, identity verification, loyalty, cases, notes, preferences."""
