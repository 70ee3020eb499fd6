"""The back office: pages only admins reach (everyone else gets 404)."""
