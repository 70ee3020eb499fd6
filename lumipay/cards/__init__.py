"""Virtual cards: issuance through a card provider, real-time authorisation, clearing."""
