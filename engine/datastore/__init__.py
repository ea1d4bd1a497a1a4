"""The Redis plumbing the rest of the engine sits on.

One place for how yutang reaches Redis: the client built from settings
(:mod:`connection`; on one server :mod:`coalescing`, on a cluster :mod:`cluster`,
both over the lean connection of :mod:`wire`), the embedded server and its supervisor
(:mod:`embedded`, :mod:`supervisor`), a local cluster for tests and benchmarks
(:mod:`local_cluster`), the key layout (:mod:`keys`) and how script calls and
commands travel in one round trip (:mod:`scripts`, :mod:`batches`). Nothing here
knows about rules, offers or features; they import it, never the other way.
"""
