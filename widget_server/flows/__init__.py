"""Self-service flows. Each interaction is a stored ``Flow`` row; handlers stay thin."""
