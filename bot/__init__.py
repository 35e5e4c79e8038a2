"""Roadie's runtime: config, CLI, wiring, scheduler, web server, GitHub client and transports."""
