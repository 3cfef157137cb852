"""Designs: train a filter bank, fit its least-squares twin and judge both.

The one place where optimisation (``optim``) and evaluation (``evaluation``) meet, above
both, so neither imports the other's way: ``learn_design`` builds the problem, trains
and exports the learned and the least-squares taps; ``judge`` gives their held-out
figures in every driver model.
"""

from design.learn import (EVALUATION_UNITS, Design, judge, judge_banks, judged_metrics,
                          learn_design)

__all__ = ["EVALUATION_UNITS", "Design", "judge", "judge_banks", "judged_metrics",
           "learn_design"]
