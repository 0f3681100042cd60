"""Operational endpoints: liveness, readiness, metrics, problem-type documentation."""
