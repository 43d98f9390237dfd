"""The web console at / and the self-service portal at /portal: pages rendered from the REST API."""
