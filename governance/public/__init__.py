"""What Roadie shows to anyone, on its public pages: read-only queries whose results hold
nothing private (no direct messages, no secret ballot before its close, no project of a
private repository unless the cooperative publishes them, no appeal, no chat id, no away
note; of a moderation case only what its moderators chose to publish).

Each page function takes a Session and returns plain JSON-ready data (str, int, float, bool,
None, lists and dicts), which is both the page's JSON and what its template renders.
"""
