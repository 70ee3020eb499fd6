"""Receipts a customer can keep and share: one for any transaction that touched their wallets,
as a page (`templates/accounts/transaction.html`) and as a PDF."""
