"""HQ's release workflow: bundles (build, sign, verify, open) and the semantic diff
of two policy sets."""
