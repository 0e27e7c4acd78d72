"""Running the service: the CLI, Hypercorn's configuration, start-up (wait, migrate), seeding."""
