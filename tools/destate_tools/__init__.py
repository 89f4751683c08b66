"""The repository's own tooling for destate charts: values schemas assembled from the
library's (schemabuild) and README values tables from values.yaml comments (valuesdoc)."""
