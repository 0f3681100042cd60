"""The programme tells a transfer an earlier roll holds from one refused for another
reason by the gateway's reason code, whatever language the words come in."""

from __future__ import annotations

from program.operation import _intake_refusals, _problem_refusals


def test_a_roll_refused_whole_in_spanish_still_tells_the_transfers_paid_earlier() -> None:
    errors = [
        {
            "field": "body.transfers[0].end_to_end_id",
            "message": "ya está en una planilla anterior",
            "reason": "already in an earlier roll",
        },
        {
            "field": "body.transfers[1].dni",
            "message": "la persona titular no tiene un consentimiento activo para pagos",
            "reason": "consent-required",
        },
    ]
    assert _intake_refusals(_problem_refusals(errors)) == {0: "paid-earlier", 1: "rejected"}
