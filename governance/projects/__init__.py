"""The org's projects (repositories) that Roadie looks after."""
