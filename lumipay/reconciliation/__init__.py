"""Reconciliation: provider settlement reports matched against our own records."""
