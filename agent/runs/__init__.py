"""Running the controller's requests: the journal of run IDs and the executor."""
