"""The lifecycle rules: which stage a lead may move to from the one it is in, and which moves
need a reason. This table is the one place that says so; ``services.change_stage`` and
``services.change_stages`` enforce it, pages and the API show its messages.

    new           → mql, disqualified
    mql           → sal (sales accepted), recycled (rejected), disqualified
    sal           → sql, recycled, disqualified
    sql           → opportunity, recycled, disqualified
    opportunity   → customer (won), lost
    lost          → recycled
    disqualified  → recycled
    recycled      → mql, disqualified
    customer      → (nothing: won is final)

A move to recycled, disqualified or lost needs a reason. Staying in the same stage is not a
move. A manager (permission ``leads.force_stage``) may force any other move, with a reason;
the history records it as forced.
"""

from .models import Stage

TRANSITIONS: dict[str, tuple[str, ...]] = {
    Stage.NEW: (Stage.MQL, Stage.DISQUALIFIED),
    Stage.MQL: (Stage.SAL, Stage.RECYCLED, Stage.DISQUALIFIED),
    Stage.SAL: (Stage.SQL, Stage.RECYCLED, Stage.DISQUALIFIED),
    Stage.SQL: (Stage.OPPORTUNITY, Stage.RECYCLED, Stage.DISQUALIFIED),
    Stage.OPPORTUNITY: (Stage.CUSTOMER, Stage.LOST),
    Stage.LOST: (Stage.RECYCLED,),
    Stage.DISQUALIFIED: (Stage.RECYCLED,),
    Stage.RECYCLED: (Stage.MQL, Stage.DISQUALIFIED),
    Stage.CUSTOMER: (),
}

REASON_REQUIRED = frozenset({Stage.RECYCLED, Stage.DISQUALIFIED, Stage.LOST})

FORCE_PERMISSION = "leads.force_stage"


class TransitionNotAllowed(ValueError):
    """A move the rules refuse; the message is meant for the user who asked for it."""


def stage_name(stage: str) -> str:
    """The short name: "SAL", not "SAL (sales accepted)"."""
    return Stage(stage).label.split(" (")[0]


def allowed(from_stage: str, to_stage: str) -> bool:
    return to_stage in TRANSITIONS.get(from_stage, ())


def next_stages(stage: str) -> list[str]:
    return list(TRANSITIONS.get(stage, ()))


def needs_reason(to_stage: str) -> bool:
    return to_stage in REASON_REQUIRED


def check(from_stage: str, to_stage: str, *, reason: str = "", forced: bool = False) -> None:
    """Raise ``TransitionNotAllowed`` unless the move may be made as asked."""
    if to_stage not in Stage.values:
        raise TransitionNotAllowed(f"“{to_stage}” is not a stage.")
    if from_stage == to_stage:
        raise TransitionNotAllowed(f"The lead is in {stage_name(to_stage)} already.")
    if forced:
        if not reason.strip():
            raise TransitionNotAllowed("Give a reason for forcing the stage change.")
        return
    if not allowed(from_stage, to_stage):
        raise TransitionNotAllowed(refusal(from_stage, to_stage))
    if needs_reason(to_stage) and not reason.strip():
        raise TransitionNotAllowed(f"Give a reason for moving the lead to {stage_name(to_stage)}.")


def refusal(from_stage: str, to_stage: str) -> str:
    options = [stage_name(stage) for stage in next_stages(from_stage)]
    if not options:
        return f"A lead in {stage_name(from_stage)} stays there: it cannot move to {stage_name(to_stage)}."
    listed = options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"
    return f"A lead in {stage_name(from_stage)} can move to {listed}, not {stage_name(to_stage)}."
