"""`entropy_guard`: a constant mu, plus two guards against entropy collapse read from the held-out evals.

Under RL, structured tasks shrink their output entropy and creative tasks expand it (Omni-Thinker,
arXiv 2507.14783). A creative task whose entropy falls is losing the diversity it is judged on; a
structured task whose entropy falls before it is solved has stopped exploring. Each task kind has a band
[lo, hi] of healthy eval entropy (`eval/<task>/entropy`, nats per token; `structured_band`,
`creative_band`).

Rules. They run once per new eval point of a task: when the latest entropy point of task t is at a step
not yet seen (the last seen step is kept in the state), tasks in catalog order; between evals nothing
changes; if several points arrived since the last decision, only the latest counts. With e = that
entropy and [lo, hi] the band of t's kind (below lo: collapsing; above hi: fully recovered, the guard
lets go at once):

Creative task t (its RL prompt share; level k_t >= 0, RL weight = task weight * boost ** k_t):
- e < lo: k_t += 1 (one more `boost`), unless t's RL share already sits at its cap.
- lo <= e <= hi: k_t -= 1 (restored gradually, one boost per eval), down to 0.
- e > hi: k_t = 0 (restored at once).
The RL prompts are split by these weights, then any boosted task whose share exceeds its cap
max(max_share, its share without boosts) is held at the cap and the rest shared by weight again.

Structured task t (its mu; level j_t >= 0, mu_t = min(mu + j_t * mu_step, mu_max)):
- e < lo and its latest score < `saturation`: j_t += 1, unless mu_t is already mu_max.
- e < lo and score >= saturation: hold (a solved task may well collapse to its one answer).
- lo <= e <= hi: j_t -= 1 (lowered back gradually), down to 0.
- e > hi: j_t = 0.

A task without RL prompts (creative) or demonstrations (structured) is never boosted or raised.
Every other mu_t is `mu`. SFT rows go to the tasks with mu_t > 0 by task weight, RL prompts to the tasks
with mu_t < 1 by the (boosted, capped) shares; `Decision.mu` is the mean mu_t over the step's tasks.
"""

from __future__ import annotations

from curriculum.records import Decision
from curriculum.signals.measurements import Measurements
from schedulers.base import BatchMix, TaskInfo, summary_mu
from schedulers.plan import Segment
from schedulers.registry import scheduler
from schedulers.spec import EntropyGuardSchedule


def capped_shares(weights: dict[str, float], caps: dict[str, float]) -> dict[str, float]:
    """Shares proportional to `weights`, with each task in `caps` held at most at its cap and the excess
    shared among the others by weight (repeated until no cap is exceeded)."""
    fixed: dict[str, float] = {}
    while True:
        free = {t: w for t, w in weights.items() if t not in fixed}
        rest, total = 1.0 - sum(fixed.values()), sum(free.values())
        shares = {t: rest * w / total for t, w in free.items()} if total > 0 else {}
        over = [t for t, p in shares.items() if t in caps and p > caps[t] + 1e-12]
        if not over:
            return {t: fixed.get(t, shares.get(t, 0.0)) for t in weights}
        fixed.update({t: caps[t] for t in over})


class EntropyGuard:
    adaptive = True

    def __init__(self, tasks: list[TaskInfo], spec: EntropyGuardSchedule):
        self.tasks, self.spec = tasks, spec
        self.mix = BatchMix(tasks, spec.sft_batch, spec.rl_batch)
        self.mix.check(needs_sft=spec.mu_max > 0, needs_rl=spec.mu < 1)
        self.boosts = {t.id: 0 for t in tasks if t.kind == "creative"}  # k_t: boosts of the RL weight
        self.raises = {t.id: 0 for t in tasks if t.kind == "structured"}  # j_t: raises of mu_t
        self.last_eval: dict[str, int] = {}  # task -> step of the last entropy point acted on

    def task_mu(self) -> dict[str, float]:
        s = self.spec
        return {
            t.id: min(s.mu + self.raises[t.id] * s.mu_step, s.mu_max) if t.id in self.raises else s.mu
            for t in self.tasks
        }

    def _cap(self, task: str, plain: dict[str, float]) -> float:
        """Largest RL share boosting may give `task`: max_share, or its plain share if that is larger."""
        return max(self.spec.max_share, plain.get(task, 0.0) / sum(plain.values()) if plain else 0.0)

    def rl_shares(self, task_mu: dict[str, float]) -> dict[str, float]:
        plain = self.mix.rl_weights_for(task_mu)  # before any boost
        weights = {t: w * self.spec.boost ** self.boosts.get(t, 0) for t, w in plain.items()}
        caps = {t: self._cap(t, plain) for t in plain if self.boosts.get(t, 0) > 0}
        return capped_shares(weights, caps)

    def _creative(self, t: TaskInfo, e: float) -> str:
        lo, hi = self.spec.creative_band
        task_mu = self.task_mu()
        before, k = self.rl_shares(task_mu).get(t.id, 0.0), self.boosts[t.id]
        if e < lo and not t.has_rl:
            rule = f"< band {lo:.2f}, but no RL prompts to add"
        elif e < lo:
            at_cap = before >= self._cap(t.id, self.mix.rl_weights_for(task_mu)) - 1e-12
            self.boosts[t.id] = k if at_cap else k + 1
            rule = f"< band {lo:.2f}" + (" (share at its cap)" if at_cap else "")
        elif e <= hi:
            self.boosts[t.id], rule = max(0, k - 1), f"in band [{lo:.2f}, {hi:.2f}]"
        else:
            self.boosts[t.id], rule = 0, f"> band {hi:.2f}"
        after = self.rl_shares(task_mu).get(t.id, 0.0)
        return f"{t.id} (creative) entropy {e:.2f} {rule}: RL share {before:.2f} -> {after:.2f}"

    def _structured(self, t: TaskInfo, e: float, score: float | None) -> str:
        s, (lo, hi) = self.spec, self.spec.structured_band
        before, j = self.task_mu()[t.id], self.raises[t.id]
        if e < lo and score is not None and score >= s.saturation:
            rule = f"< band {lo:.2f} but score {score:.2f} >= saturation {s.saturation:.2f}"
        elif e < lo and not t.has_sft:
            rule = f"< band {lo:.2f}, but no demonstrations to add"
        elif e < lo:
            self.raises[t.id] = j + 1 if before < s.mu_max else j
            rule = f"< band {lo:.2f}, score {'-' if score is None else f'{score:.2f}'} < {s.saturation:.2f}"
        elif e <= hi:
            self.raises[t.id], rule = max(0, j - 1), f"in band [{lo:.2f}, {hi:.2f}]"
        else:
            self.raises[t.id], rule = 0, f"> band {hi:.2f}"
        return f"{t.id} (structured) entropy {e:.2f} {rule}: mu {before:.2f} -> {self.task_mu()[t.id]:.2f}"

    def decide(self, step: int, measurements: Measurements) -> Decision:
        events = []
        for t in self.tasks:
            history = measurements.entropy.get(t.id)
            if not history or history[-1][0] == self.last_eval.get(t.id):
                continue
            eval_step, e = history[-1]
            self.last_eval[t.id] = eval_step
            scores = measurements.scores.get(t.id)
            if t.kind == "creative":
                events.append(self._creative(t, e))
            else:
                events.append(self._structured(t, e, scores[-1][1] if scores else None))
        task_mu = self.task_mu()
        sft = self.mix.sft_for(task_mu)
        rl = self.mix.rl(self.rl_shares(task_mu))
        mu = summary_mu(task_mu, sft, rl)
        why = "; ".join(events) if events else "no new eval" + self._holding(task_mu)
        return Decision(step, "guard", mu, sft, rl, "none", f"{why}; mean mu {mu:.2f}", task_mu=task_mu)

    def nominal(self, total_steps: int) -> list[Segment]:
        """No evaluations: no boosts or raises, every task at mu, at every step."""
        task_mu = self.task_mu()
        sft = {t: w for t, w in self.mix.sft_weights.items() if task_mu[t] > 0}
        rl = self.rl_shares(task_mu)
        mu = summary_mu(task_mu, sft, rl)
        return self.mix.segments([mu] * total_steps, lambda t: "guard", "none", rl, task_mu, sft)

    def _holding(self, task_mu: dict[str, float]) -> str:
        held = [f"{t} RL weight x{self.spec.boost**k:g}" for t, k in self.boosts.items() if k > 0]
        held += [f"{t} mu {task_mu[t]:.2f}" for t, j in self.raises.items() if j > 0]
        return f", holding {', '.join(held)}" if held else ""

    def state_dict(self) -> dict:
        return {
            "mix": self.mix.state_dict(),
            "boosts": dict(self.boosts),
            "raises": dict(self.raises),
            "last_eval": dict(self.last_eval),
        }

    def load_state_dict(self, state: dict) -> None:
        self.mix.load_state_dict(state["mix"])
        self.boosts = {t: int(state["boosts"].get(t, 0)) for t in self.boosts}
        self.raises = {t: int(state["raises"].get(t, 0)) for t in self.raises}
        self.last_eval = {t: int(k) for t, k in state["last_eval"].items()}


@scheduler("entropy_guard")
def build(spec: EntropyGuardSchedule, tasks: list[TaskInfo], total_steps: int) -> EntropyGuard:
    return EntropyGuard(tasks, spec)
