"""Infrastructure tooling around template.yaml (the SAM template is the source of truth)."""
