"""KYC: a customer's tier, the CBN limits it sets, and the documents that raise it."""
