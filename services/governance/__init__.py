"""Governance: policy packs on input, tool calls and output, and the fallback ladder."""
