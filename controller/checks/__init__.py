"""Health checks on the controller: definitions, where they apply, and their results."""
