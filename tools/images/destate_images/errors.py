"""The one error type of the image builder: its message is the whole one-line report."""


class ImageError(Exception):
    """A build or import step failed; str(error) names the value, file or step."""
