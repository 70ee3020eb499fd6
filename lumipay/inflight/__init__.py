"""Money held for an operation: one engine for every hold that waits on a provider or a person.

See lumipay/inflight/engine.py. Bills (lumipay/bills) and payouts (lumipay/bank) run on it;
manual settlements (lumipay/settlements) settle through it under the same locks.
"""
