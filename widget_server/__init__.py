"""Widget server: identity pools with embeddable, themed registration widgets."""
