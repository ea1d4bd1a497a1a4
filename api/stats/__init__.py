"""``GET /v1/stats/protection``: the protection dashboard's numbers (实时防护大盘)."""
