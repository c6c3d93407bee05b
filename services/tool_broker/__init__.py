"""The tool-broker: runs tool calls and plans against the enterprise backends (README.md)."""
