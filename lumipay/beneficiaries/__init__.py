"""Saved recipients: a customer keeps the people they pay, to pick them on the transfer form."""
