"""The strand measure (issue 14's demo hair): soft truth away from the body, recovered share."""

from __future__ import annotations

import numpy as np

from vfxmatte.evaluation.strands import strand_recovery, strand_region


def test_strand_recovery_counts_only_soft_truth_away_from_the_body():
    truth = np.zeros((40, 40), np.float32)
    truth[:, :10] = 1  # the body
    truth[:, 11] = 0.5  # its anti-aliased rim, within the gap: not a strand
    truth[5:35, 20] = 0.4  # a strand
    region = strand_region(truth)
    assert region[:, 20][5:35].all() and not region[:, 11].any()
    pred = truth.copy()
    pred[5:35, 20] = 0.1  # a quarter of the strand back
    pred[:, 30] = 1  # alpha where the truth has none does not count
    assert abs(strand_recovery(pred, truth) - 0.25) < 1e-6
    assert strand_recovery(truth, truth) == 1.0


def test_eval_scores_strands_per_instance_and_in_the_summary():
    from types import SimpleNamespace

    from vfxmatte.evaluation.report import summarise
    from vfxmatte.evaluation.runner import EvalRun, score_instances

    truth = np.zeros((2, 40, 40), np.float32)
    truth[0, :, :10] = 1
    truth[0, 5:35, 20] = 0.4  # instance 0 has a strand
    truth[1, :, 30:] = 1  # instance 1 is a hard shape: no strands
    pred = truth.copy()
    pred[0, 5:35, 20] = 0.2  # half of the strand back
    scores = score_instances(pred, truth, ["a", "b"])
    assert abs(scores["instances"]["a"]["strands"] - 0.5) < 1e-6
    assert scores["instances"]["b"]["strands"] is None

    run = EvalRun(samples=[{"methods": {"guided": {**scores, "seconds": 1.0}}}])
    method = SimpleNamespace(name="guided")  # summarise reads only the method's name
    assert abs(summarise(run, [method])["guided"]["strands"] - 0.5) < 1e-6
