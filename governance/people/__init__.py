"""People, their chat identities, their roles, and the proof that links them."""
