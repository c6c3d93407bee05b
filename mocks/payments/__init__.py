"""The payments mock: cards on file, charges, refunds, sportsbook wallets, withdrawals, limits."""
