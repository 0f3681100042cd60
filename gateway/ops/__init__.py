"""Operational endpoints: liveness, readiness, metrics, problem-type documentation, and
the partners' health for operators."""
