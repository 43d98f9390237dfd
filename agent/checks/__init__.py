"""Health checks the agent runs on its own schedule, connected to the controller or not."""
