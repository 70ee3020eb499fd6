"""The periodic schedule, read by `rq cron lumipay.schedule` (the `scheduler` process).

The scheduler only enqueues; the jobs run on the workers, inside the app.
"""

from __future__ import annotations

from rq import cron

from lumipay.bank.jobs import sweep_payouts
from lumipay.bills.jobs import sweep_bills
from lumipay.cards.jobs import expire_card_authorisations
from lumipay.fx.jobs import fx_update
from lumipay.jobs.outbox import relay_outbox
from lumipay.ledger.jobs import expire_holds, seal_ledger, verify_ledger
from lumipay.reconciliation.jobs import reconcile_providers

cron.register(relay_outbox, "default", interval=30, job_timeout=120)
cron.register(sweep_bills, "bills", interval=60, job_timeout=600)
cron.register(sweep_payouts, "bank", interval=60, job_timeout=600)
cron.register(expire_holds, "default", interval=60, job_timeout=300)
cron.register(expire_card_authorisations, "default", interval=60, job_timeout=300)
cron.register(fx_update, "default", interval=180, job_timeout=120)
cron.register(seal_ledger, "default", interval=60, job_timeout=300)
cron.register(verify_ledger, "default", interval=3600, job_timeout=1800)
# Nightly (02:30 UTC, 03:30 in Lagos), for the previous Lagos day, once providers have
# published their settlement reports.
cron.register(reconcile_providers, "default", cron="30 2 * * *", job_timeout=1800)
