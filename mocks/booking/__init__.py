"""The airline booking engine mock."""
