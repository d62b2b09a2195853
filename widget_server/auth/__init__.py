"""End users proving who they are: sessions, login throttling."""
