"""HTTP: the Litestar app, its handlers and the one place that maps domain errors."""
