"""Container images for the local real node, built from Debian's packages (tools/images)."""
