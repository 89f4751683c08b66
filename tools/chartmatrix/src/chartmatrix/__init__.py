"""chartmatrix: a Helm chart tester."""

__version__ = "0.1.0"
