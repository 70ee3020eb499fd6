"""What every back-office page stands on, below the domains that add pages to it: the `admin`
blueprint and its one access check, the menu each domain registers its section in, the search
forms. The console itself (overview, customers, ledger) is lumipay.admin, a layer above the
domains."""
