"""yutang engine: rule packs, features and evaluation."""
