"""The GitHub port, implemented with PyGithub."""
