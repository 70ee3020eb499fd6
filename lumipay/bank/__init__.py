"""Money in and out: top-ups from banks and payouts to them."""
