"""Fixed, stratified train / valid / test splits of labelled tickets."""

import random
from collections import defaultdict

from common.sample_data import TICKET_SPLITS, Ticket


def stratified_split(
    tickets: list[Ticket],
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    stratify_by: tuple[str, ...] = ("type", "urgency"),
    seed: int = 20261123,
) -> dict[str, list[Ticket]]:
    """Split so that every stratum (by default each type × urgency pair) is spread over the
    splits in the given proportions; the same input and seed always give the same split."""
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must add up to 1, not {sum(fractions)}")
    strata: dict[tuple[str, ...], list[Ticket]] = defaultdict(list)
    for ticket in sorted(tickets, key=lambda ticket: ticket.id):
        strata[tuple(getattr(ticket, name) for name in stratify_by)].append(ticket)
    rng = random.Random(seed)
    splits: dict[str, list[Ticket]] = {name: [] for name in TICKET_SPLITS}
    # Remainders of small strata are dealt round-robin, so the small splits still get some.
    turn = 0
    for key in sorted(strata):
        members = strata[key]
        rng.shuffle(members)
        counts = [int(len(members) * fraction) for fraction in fractions]
        start = 0
        for name, count in zip(TICKET_SPLITS, counts, strict=True):
            splits[name].extend(members[start : start + count])
            start += count
        for ticket in members[start:]:
            splits[TICKET_SPLITS[turn % len(TICKET_SPLITS)]].append(ticket)
            turn += 1
    return {name: sorted(rows, key=lambda ticket: ticket.id) for name, rows in splits.items()}
