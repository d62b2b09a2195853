"""OAuth 2.0 / OpenID Connect provider: apps' codes, signing keys, ID tokens, consent."""
