"""The condition language: parse (parser), resolve and type-check (checker), tree (tree)."""
