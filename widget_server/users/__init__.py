"""End users as administrators see them: status lifecycle, views, invitations, erasure."""
