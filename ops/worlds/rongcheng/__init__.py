"""A second blind world: a children's photo studio in Chengdu in the first week of the winter holiday.

Held out: written apart from the project's simulator, rules and features, and from the first
blind world (ops/worlds/README.md, "A second world: rongcheng"). Nobody tunes on it.
"""
