"""Benchmarks: the engine against the published MRNet path, and the HTTP service under load.

`reference` re-creates the published eager inference path as the baseline,
`flops` and `peak` give the work per slice and what the machine can do,
`engine` times both on the same `exams` and `precision` checks they agree;
`client` and `load` drive a running server over HTTP; `report` turns the
results into tables, JSON, markdown and the target ratios.
"""
