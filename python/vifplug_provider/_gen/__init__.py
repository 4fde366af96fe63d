"""Generated from proto/vifplug/provider/v1/provider.proto by scripts/gen-python.mjs; never edited by hand."""
