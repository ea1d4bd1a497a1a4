"""Compile a validated pack into a CompiledRuleSet, collecting every diagnostic."""
