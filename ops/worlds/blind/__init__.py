"""A blind world: eight days of a Hangzhou children's photo studio, written from the domain alone.

Written only from the public description of the trade (../shared/DOMAIN.md) and the
integration contract (the event model, the API, the log format, the merchant's offers):
never from the simulator or the detection it was tuned with. See ops/worlds/README.md.
"""
