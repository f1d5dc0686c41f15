"""The closed status vocabulary and every legal and illegal move (spec/concepts.md, Statuses)."""
import itertools

import pytest

from engine.states import (
    TX_ACTIVE,
    TX_RETRYABLE,
    TX_TERMINAL,
    StepRunStatus,
    TxStatus,
    can_move,
    is_terminal,
    sources_for,
)

Q, R, S = TxStatus.QUEUED, TxStatus.RUNNING, TxStatus.SLEEPING
SUCCESS, FAILED, ABORTED = TxStatus.SUCCESS, TxStatus.FAILED, TxStatus.ABORTED
TIMEOUT, CANCELLED, INTERNAL = TxStatus.TIMEOUT, TxStatus.CANCELLED, TxStatus.INTERNAL_ERROR

TERMINALS = {SUCCESS, FAILED, ABORTED, TIMEOUT, CANCELLED, INTERNAL}

# The spec's table of legal moves, written out independently of engine/states.py.
LEGAL = {
    Q: {R, CANCELLED, TIMEOUT},
    R: {Q, S} | TERMINALS,
    S: {Q, CANCELLED, TIMEOUT},
    SUCCESS: set(),
    FAILED: {Q},
    ABORTED: {Q},
    TIMEOUT: {Q},
    CANCELLED: set(),
    INTERNAL: {Q},
}


def test_transaction_statuses_are_exactly_the_nine_of_the_spec():
    assert {str(s) for s in TxStatus} == {
        "queued", "running", "sleeping", "success", "failed", "aborted", "timeout", "cancelled", "internal_error",
    }


def test_step_run_statuses_are_exactly_those_of_the_spec():
    assert {str(s) for s in StepRunStatus} == {
        "running", "success", "failed", "aborted", "sleeping", "timeout", "cancelled", "internal_error", "lost",
    }


def test_terminal_and_active_sets_partition_the_statuses():
    assert TX_ACTIVE == {Q, R, S}
    assert TX_TERMINAL == TERMINALS
    assert not TX_ACTIVE & TX_TERMINAL
    assert TX_ACTIVE | TX_TERMINAL == set(TxStatus)


def test_retryable_statuses_are_failed_aborted_timeout_and_internal_error():
    assert TX_RETRYABLE == {FAILED, ABORTED, TIMEOUT, INTERNAL}
    assert SUCCESS not in TX_RETRYABLE and CANCELLED not in TX_RETRYABLE


@pytest.mark.parametrize("status", sorted(TxStatus))
def test_is_terminal_matches_the_table(status):
    assert is_terminal(status) == (status in TERMINALS)
    assert is_terminal(str(status)) == (status in TERMINALS)


@pytest.mark.parametrize(("source", "target"), sorted(
    (s, t) for s, targets in LEGAL.items() for t in targets
))
def test_every_legal_move_is_allowed(source, target):
    assert can_move(source, target) is True
    assert can_move(str(source), str(target)) is True


@pytest.mark.parametrize(("source", "target"), sorted(
    (s, t) for s, t in itertools.product(TxStatus, TxStatus) if t not in LEGAL[s]
))
def test_every_other_move_is_refused(source, target):
    assert can_move(source, target) is False


def test_success_and_cancelled_never_move_again():
    for target in TxStatus:
        assert not can_move(SUCCESS, target)
        assert not can_move(CANCELLED, target)


def test_no_status_moves_to_itself():
    for status in TxStatus:
        assert not can_move(status, status)


def test_only_a_running_transaction_reaches_success_failed_aborted_or_internal_error():
    for target in (SUCCESS, FAILED, ABORTED, INTERNAL):
        assert set(sources_for(target)) == {"running"}


def test_sources_for_lists_every_status_a_target_is_reachable_from():
    for target in TxStatus:
        expected = {str(s) for s, targets in LEGAL.items() if target in targets}
        assert set(sources_for(target)) == expected


def test_an_unknown_status_is_rejected():
    with pytest.raises(ValueError):
        can_move("queued", "paused")
    with pytest.raises(ValueError):
        can_move("done", "queued")


def test_an_illegal_move_is_refused_with_a_typed_error_and_not_applied(harness):
    from django.db import transaction

    from engine.errors import InvalidTransition
    from engine.models import JournalEntry
    from engine.services.common import lock_tx
    from engine.services.state.move import move

    harness.load({"name": "states-echo", "steps": [{"type": "util/echo"}]})
    tx_id = harness.start("states-echo", {})
    assert harness.run(tx_id).status == "success"
    entries = JournalEntry.objects.filter(tx_id=tx_id).count()
    for target in (TxStatus.QUEUED, TxStatus.RUNNING, TxStatus.FAILED):
        with pytest.raises(InvalidTransition) as raised, transaction.atomic():
            move(lock_tx(tx_id=tx_id), target=target, actor="test", now=harness.now())
        assert raised.value.code == "invalid_transition" and raised.value.http_status == 409
    assert harness.result(tx_id).status == "success"
    assert JournalEntry.objects.filter(tx_id=tx_id).count() == entries
