"""Reports of a run: console summary, JUnit XML, JSON and a self-contained HTML grid."""
