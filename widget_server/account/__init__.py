"""The end user's self-service portal, as services: profile, password, addresses and the
sessions list. Each function takes the session's user (the web layer checked the session
and the CSRF token) and runs its own transactions; nothing here knows about HTTP.
"""
