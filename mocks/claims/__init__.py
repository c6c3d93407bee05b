"""The dental insurer mock: members, plans, eligibility, benefits, claims and providers."""
