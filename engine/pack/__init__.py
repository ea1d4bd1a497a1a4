"""Reading a rule pack: YAML with positions (yaml_source), section schemas (schema), loader."""
