"""The marketers' web console: one static page and the JSON endpoints only it needs."""
