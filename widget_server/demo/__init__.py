"""The demo: a partner site on another origin that embeds the widget."""
