"""The customer's home pages: the dashboard, wallets, history and receipts.

Delivery, above the products: the home page gathers what every product shows a customer (the
"send again" list from transfers, receipts for bills, payouts, cards and conversions), so it sits
above them. The blueprint keeps its name, `accounts`, so its endpoints are `accounts.*`.
"""
