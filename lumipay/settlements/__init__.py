"""Manual settlement under maker-checker: one admin proposes, a different admin approves."""
