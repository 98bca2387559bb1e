"""Use cases. Each takes a command and a unit of work and runs in one transaction."""
