"""The self-hostable Flexible Sync server: app directory, auth, rules, sync endpoints, storage."""
