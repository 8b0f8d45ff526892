"""The benchmark's table, and the lesson's targets checked against it (ratios, one run)."""

from __future__ import annotations

import statistics

from ..timing import percentile
from .load import PROBE_TIMEOUT, SUBMIT_INTERVAL, SUBMIT_SECONDS
from .measure import FILL_LIMIT, FREEZE_SECONDS, LOAD_SECONDS, Variant


def p95(values: list[float]) -> float:
    return percentile(values, 95)


def p95s(rounds: list[list[float]]) -> list[float]:
    """The p95 of each round's probes."""
    return [p95(probes) for probes in rounds]


def ms(rounds: list[list[float]], *, capped: bool = True) -> str:
    """The median over the rounds of each round's p95, and their range (capped: probes that got no
    answer were counted as PROBE_TIMEOUT)."""
    values = p95s(rounds)
    if capped and statistics.median(values) >= PROBE_TIMEOUT:
        return f">={PROBE_TIMEOUT * 1000:.0f} ms"
    return spread([value * 1000 for value in values], ".1f") + " ms"


def spread(values: list[float], fmt: str) -> str:
    """The median, and the range over the rounds when there were several."""
    middle = format(statistics.median(values), fmt)
    return middle if len(values) < 2 else f"{middle} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def submit_p95s(variant: Variant) -> list[float]:
    """Each round's p95 of the submissions clocked while RabbitMQ was frozen."""
    return [p95([seconds for seconds, _, _ in submits]) for submits in variant.frozen_submits]


def before_thaw(variant: Variant) -> str:
    """How many clocked submissions were answered while RabbitMQ was still frozen, and with what."""
    submits = [submit for rounds in variant.frozen_submits for submit in rounds]
    answered: dict[str, int] = {}
    for _, status, early in submits:
        if early:
            answered[status] = answered.get(status, 0) + 1
    text = f"{sum(answered.values())}/{len(submits)}"
    return text + "".join(f", {status}: {count}" for status, count in sorted(answered.items()))


def stopped_accepting(variant: Variant) -> str:
    """The 202s once RabbitMQ froze, and the seconds until the last (medians)."""
    count = spread(variant.fill_accepted, ".0f")
    seconds = statistics.median(variant.fill_seconds)
    after = f">={FILL_LIMIT:g}" if seconds >= FILL_LIMIT else f"{seconds:.1f}"
    return f"{count} in {after} s"


def table(variants: list[Variant]) -> list[str]:
    rows = [
        ("lines of Python", lambda v: str(v.lines)),
        ("submit req/s (202s, flat out)", lambda v: spread(v.rates, ".0f")),
        ("  as % of raw apply_async rate", lambda v: spread([s * 100 for s in v.raw_shares], ".0f") + "%"),
        ("API CPU ms per accepted submit", lambda v: spread(v.cpu_ms, ".2f")),
        ("RabbitMQ CPU ms per accepted submit", lambda v: spread(v.broker_cpu_ms, ".2f")),
        ("cheap route p95, idle", lambda v: ms(v.idle)),
        ("cheap route p95, under submit load", lambda v: ms(v.loaded)),
        ("  loaded / idle", lambda v: "x" + spread(per_round(v.loaded, v.idle), ".1f")),
        ("RabbitMQ frozen: 202s until none came", stopped_accepting),
        (f"then for {FREEZE_SECONDS:g} s: cheap route p95", lambda v: ms(v.frozen, capped=False)),
        (
            f"  a submission / {SUBMIT_INTERVAL:g} s for {SUBMIT_SECONDS:g} s: p95",
            lambda v: spread(submit_p95s(v), ".2f") + " s",
        ),
        ("  answered before the thaw", before_thaw),
        (
            "  the flood's answers (status: count)",
            lambda v: ", ".join(f"{k}: {n}" for k, n in sorted(v.frozen_answers.items())),
        ),
    ]
    width = max(len(label) for label, _ in rows) + 2
    lines = [f"{'':<{width}}" + "".join(f"{v.name:>28}" for v in variants)]
    lines += [f"{label:<{width}}" + "".join(f"{value(v):>28}" for v in variants) for label, value in rows]
    return lines


def ratio(a: list[float], b: list[float]) -> float:
    """The median over the rounds of a/b, each round's pair measured close together."""
    return statistics.median(x / max(y, 1e-9) for x, y in zip(a, b, strict=True))


def per_round(a: list[list[float]], b: list[list[float]]) -> list[float]:
    """Each round's p95 of `a` over its p95 of `b`."""
    return [x / max(y, 1e-9) for x, y in zip(p95s(a), p95s(b), strict=True)]


def targets(reference: Variant, tuned: Variant | None, naive: Variant) -> list[str]:
    """The lesson's promises, as ratios measured in this run (medians of the rounds)."""
    checks = []
    for variant, tuned_targets in ((reference, False), (tuned, True)):
        if variant is None:
            continue
        name = variant.name.split()[0].lower()
        loaded = statistics.median(per_round(variant.loaded, variant.idle))
        frozen = statistics.median(per_round(naive.frozen, variant.frozen))
        if tuned_targets:
            share = statistics.median(variant.raw_shares)
            versus = ratio(variant.rates, naive.rates)
            checks.append((f"{name} submit rate >= 50% of the raw publish rate: {share * 100:.0f}%", share >= 0.5))
            checks.append((f"{name} submit rate >= x1.3 the naive variant's: x{versus:.2f}", versus >= 1.3))
        checks.append((f"{name} cheap-route p95 under load within 3x of idle: x{loaded:.1f}", loaded <= 3))
        checks.append(
            (f"{name} cheap-route p95 with RabbitMQ frozen, vs naive: {frozen:.0f} times better", frozen >= 100)
        )
    lines = [f"  {'met    ' if ok else 'NOT MET'}  {text}" for text, ok in checks]
    for variant in (reference, tuned):
        if variant is not None:
            submits = ratio(submit_p95s(naive), submit_p95s(variant))
            lines.append(
                f"  (RabbitMQ frozen, a submission's p95: {variant.name.split()[0].lower()} x{submits:.1f} faster than "
                f"naive, whose hang ends with the {FREEZE_SECONDS:g} s freeze; answered before the thaw: "
                f"{before_thaw(variant).split(',')[0]}, naive {before_thaw(naive).split(',')[0]})"
            )
    lines.append(
        f"  (reference submit rate: x{ratio(reference.rates, naive.rates):.2f} the naive variant's",
    )
    if tuned is not None:
        lines[-1] += f", x{ratio(reference.rates, tuned.rates):.2f} the tuned variant's"
    lines[-1] += ")"
    return lines


def report(raws: dict[str, list[float]], variants: list[Variant], processes: int, connections: int) -> str:
    lines = table(variants)
    lines.append(f"raw apply_async publish rate, one process: {spread(raws['unconfirmed'], '.0f')} tasks/s")
    lines.append(
        f"  the same, each waiting for its confirm (confirm_publish): {spread(raws['confirmed'], '.0f')} tasks/s"
    )
    reference = variants[0]
    versus = [rate / raw for rate, raw in zip(reference.rates, raws["confirmed"], strict=True)]
    lines.append(f"  reference / that loop: x{spread(versus, '.2f')} (it waits for each confirm too, with HTTP on top)")
    lines.append(
        f"each API: {processes} uvicorn process(es), flooded by {connections} connections "
        f"for {LOAD_SECONDS:g} s per round; {len(raws['unconfirmed'])} round(s): medians (and ranges) over the rounds"
    )
    named = {variant.name.split()[0].lower(): variant for variant in variants}
    lines += ["targets:", *targets(named["reference"], named.get("tuned"), named["naive"])]
    return "\n".join(lines)
